"""Legacy Sources (ACH credit transfers): when a chargeable Source may be charged for a payment.

A Source belongs to a payment when it carries the payment's signed metadata (the service hands
it to the platform, whose checkout puts it on the Source) and is for exactly its amount.
Charging it is the one step that takes the customer's money, so it happens only when nothing
else is paying or has paid that payment, and only after its PaymentIntent is closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.domain.errors import CurrencyMismatch
from chalicelib.domain.metadata import SigningKeys, payment_metadata
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


def charge_params(payment: Payment, source: Mapping[str, Any], keys: SigningKeys) -> dict[str, Any]:
    """What to send Stripe to create the Charge (on the payment's connected account).

    The Source's own amount, never more: a Source for less than the payment pays nothing.
    """
    if str(source.get("currency", "")).lower() != payment.currency.lower():
        raise CurrencyMismatch(payment.payment_id, payment.currency, str(source.get("currency")))
    if source.get("amount") != payment.amount:
        raise ValueError(f"source {source.get('id')} is not for payment {payment.payment_id}")
    return {
        "source": source["id"],
        "amount": source["amount"],
        "currency": payment.currency,
        "metadata": payment_metadata(payment, keys),
    }


def payment_intent_closed(payment_intent: Mapping[str, Any]) -> bool:
    """Whether the payment's PaymentIntent can no longer take money (so its Source may)."""
    return payment_intent.get("status") == "canceled"


def charge_idempotency_key(source_id: str) -> str:
    # One Source pays once: two consumers, or a retry, get Stripe's first answer back.
    return f"charge-{source_id}"
