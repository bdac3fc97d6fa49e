"""The metadata that ties a Stripe object (PaymentIntent, Source, Charge) back to a payment.

It holds enough to rebuild the payment record if the service created the PaymentIntent but
never managed to store the payment (a crash between the two), or if the platform made a
Source for a payment the service has not seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.domain.payments import InvoiceLine, Payment

OWNER = "stripe-bridge"
_VALUE_LIMIT = 500  # Stripe's limit on one metadata value
_INVOICE_KEY = "invoices_"


def payment_metadata(payment: Payment) -> dict[str, str]:
    encoded = ";".join(f"{line.invoice_id}={line.amount}" for line in payment.invoices)
    chunks = [encoded[i : i + _VALUE_LIMIT] for i in range(0, len(encoded), _VALUE_LIMIT)]
    metadata = {
        "owner": OWNER,
        "payment_id": payment.payment_id,
        "company_id": payment.company_id,
        "created_at": payment.created_at,
    }
    metadata.update({f"{_INVOICE_KEY}{i}": chunk for i, chunk in enumerate(chunks)})
    return metadata


def payment_id_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The payment id if the object was created by this service, else None."""
    if not metadata or metadata.get("owner") != OWNER:
        return None
    return metadata.get("payment_id")


def rebuild_payment(payment_intent: Mapping[str, Any], account_id: str) -> Payment | None:
    """The pending payment a PaymentIntent of ours stands for, or None if it is not ours."""
    if payment_id_of(payment_intent.get("metadata")) is None:
        return None
    return _rebuild(
        payment_intent.get("metadata"),
        account_id,
        amount=payment_intent["amount"],
        currency=payment_intent["currency"],
        payment_intent_id=payment_intent["id"],
    )


def rebuild_payment_from_source(source: Mapping[str, Any], account_id: str) -> Payment | None:
    """The pending payment a Source of ours was made for, or None if it is not ours.

    The Source carries the payment's metadata (the platform's checkout copies it there); the
    amount is the Source's own, or what the invoices add up to when the Source has none.
    """
    metadata = source.get("metadata")
    if payment_id_of(metadata) is None:
        return None
    invoices = _invoices(metadata or {})
    amount = source.get("amount") or sum(line.amount for line in invoices)
    return _rebuild(
        metadata, account_id, amount=amount, currency=source["currency"], source_id=source["id"]
    )


def _rebuild(
    metadata: Mapping[str, Any] | None,
    account_id: str,
    amount: int,
    currency: str,
    payment_intent_id: str | None = None,
    source_id: str | None = None,
) -> Payment | None:
    payment_id = payment_id_of(metadata)
    # A Source made by hand may name the payment without describing it: nothing to rebuild.
    if payment_id is None or metadata is None or not metadata.get("company_id"):
        return None
    return Payment(
        payment_id=payment_id,
        company_id=metadata["company_id"],
        account_id=account_id,
        amount=amount,
        currency=currency,
        invoices=_invoices(metadata),
        created_at=metadata.get("created_at", ""),
        payment_intent_id=payment_intent_id,
        source_id=source_id,
    )


def _invoices(metadata: Mapping[str, Any]) -> tuple[InvoiceLine, ...]:
    chunks = []
    index = 0
    while f"{_INVOICE_KEY}{index}" in metadata:
        chunks.append(metadata[f"{_INVOICE_KEY}{index}"])
        index += 1
    encoded = "".join(chunks)
    if not encoded:
        return ()
    return tuple(
        InvoiceLine(invoice_id, int(amount))
        for invoice_id, amount in (item.rsplit("=", 1) for item in encoded.split(";"))
    )
