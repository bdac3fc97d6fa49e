"""Legacy Sources (ACH credit transfers): when a chargeable Source may be charged for a payment.

A Source belongs to a payment when its metadata says so (the platform's checkout copies the
payment's metadata onto it). Charging it is the one step that takes the customer's money, so it
happens only when nothing else is paying or has paid that payment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.domain.errors import CurrencyMismatch
from chalicelib.domain.metadata import payment_metadata
from chalicelib.domain.payments import Payment, PaymentStatus

CHARGEABLE = "chargeable"
# A payment still waiting for money; a failed attempt may be paid another way.
_OPEN = frozenset({PaymentStatus.PENDING, PaymentStatus.FAILED})


def may_charge(payment: Payment, source: Mapping[str, Any]) -> bool:
    """Whether a Charge from this Source pays the payment once, and only once."""
    return (
        source.get("status") == CHARGEABLE
        and payment.status in _OPEN
        and payment.source_id in (None, source["id"])
    )


def linked(payment: Payment, source_id: str, now: str) -> Payment | None:
    """The payment bound to the Source about to be charged; None when there is nothing to bind.

    Bound before the Charge exists, so that a Charge whose answer got lost is still found by
    its Source, and so that a second Source never pays the same payment.
    """
    if payment.source_id is not None or payment.status not in _OPEN:
        return None
    return replace(payment, source_id=source_id, version=payment.version + 1, updated_at=now)


def charge_params(payment: Payment, source: Mapping[str, Any]) -> dict[str, Any]:
    """What to send Stripe to create the Charge (on the payment's connected account)."""
    if str(source.get("currency", "")).lower() != payment.currency.lower():
        raise CurrencyMismatch(payment.payment_id, payment.currency, str(source.get("currency")))
    return {
        "source": source["id"],
        "amount": payment.amount,
        "currency": payment.currency,
        "metadata": payment_metadata(payment),
    }


def charge_idempotency_key(source_id: str) -> str:
    # One Source pays once: two consumers, or a retry, get Stripe's first answer back.
    return f"charge-{source_id}"
