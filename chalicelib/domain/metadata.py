"""The signed metadata that ties a Stripe object (PaymentIntent, Source, Charge) to a payment.

Anyone who can write metadata on a connected account (its holder, and for a Source possibly
the customer's browser) could write ours. So the metadata carries a MAC made with a key only
the service holds, over every fact it states; an object whose metadata does not verify is not
ours, whatever it says. Verified metadata is enough to rebuild a payment the service created
but never managed to store (a crash between Stripe and DynamoDB).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.payments import InvoiceLine, Payment

OWNER = "stripe-bridge"
SIGNATURE_SCHEME = "v1"
_VALUE_LIMIT = 500  # Stripe's limit on one metadata value
_MAX_CHUNKS = 40  # Stripe allows 50 keys; the other fields take 8
_INVOICE_KEY = "invoices_"
_MIN_KEY_LENGTH = 32
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_AMOUNT = re.compile(r"[1-9][0-9]{0,8}")
_CURRENCY = re.compile(r"[a-z]{3}")
_TIMESTAMP = re.compile(r"[0-9A-Za-z:.+-]{1,40}")
_SIGNATURE = re.compile(r"v1=[0-9a-f]{64}")


@dataclass(frozen=True)
class SigningKeys:
    """The service's metadata keys, newest first: sign with the first, accept any (rotation)."""

    keys: tuple[bytes, ...] = field(repr=False)

    @classmethod
    def parse(cls, raw: str) -> SigningKeys:
        keys = tuple(k.encode() for k in raw.replace(",", " ").split())
        if not keys or any(len(k) < _MIN_KEY_LENGTH for k in keys):
            raise ValueError(f"metadata signing keys must be at least {_MIN_KEY_LENGTH} characters")
        return cls(keys)

    def sign(self, message: bytes) -> str:
        return f"{SIGNATURE_SCHEME}={_mac(self.keys[0], message)}"

    def verify(self, message: bytes, signature: str) -> bool:
        if not _SIGNATURE.fullmatch(signature):
            return False
        given = signature.split("=", 1)[1]
        # Every key is tried, so the time taken says nothing about which one matched.
        matches = [hmac.compare_digest(_mac(key, message), given) for key in self.keys]
        return any(matches)


def _mac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class NotOurs:
    """Why a Stripe object is not one the service may act on (for the log, never raised)."""

    reason: str


def _canonical(payment: Payment) -> bytes:
    # A JSON array of plain strings and integers: no separator inside a value can shift a
    # field into its neighbour, so two different payments never share a message.
    return json.dumps(
        [
            f"{OWNER}/payment/{SIGNATURE_SCHEME}",
            payment.payment_id,
            payment.company_id,
            payment.account_id,
            payment.amount,
            payment.currency,
            payment.created_at,
            [[line.invoice_id, line.amount] for line in payment.invoices],
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def payment_metadata(payment: Payment, keys: SigningKeys) -> dict[str, str]:
    """The signed metadata for the payment's PaymentIntent, its Source and its Charge."""
    encoded = ";".join(f"{line.invoice_id}={line.amount}" for line in payment.invoices)
    chunks = [encoded[i : i + _VALUE_LIMIT] for i in range(0, len(encoded), _VALUE_LIMIT)]
    metadata = {
        "owner": OWNER,
        "payment_id": payment.payment_id,
        "company_id": payment.company_id,
        "account_id": payment.account_id,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "created_at": payment.created_at,
        "signature": keys.sign(_canonical(payment)),
    }
    metadata.update({f"{_INVOICE_KEY}{i}": chunk for i, chunk in enumerate(chunks)})
    return metadata


def signed_payment(metadata: Any, keys: SigningKeys) -> Payment | NotOurs:
    """The pending payment that verified metadata describes; NotOurs for anything else.

    Never raises: whatever an account holder writes is either ours, verified, or ignored.
    """
    if not isinstance(metadata, Mapping) or metadata.get("owner") != OWNER:
        return NotOurs("no metadata of this service")
    payment = _parse(metadata)
    if isinstance(payment, NotOurs):
        return payment
    signature = metadata.get("signature")
    if not isinstance(signature, str) or not keys.verify(_canonical(payment), signature):
        return NotOurs("metadata not signed by this service")
    return payment


def claimed_payment(
    stripe_object: Mapping[str, Any], account: ConnectedAccount, keys: SigningKeys
) -> Payment | NotOurs:
    """The payment a PaymentIntent or Source of this account was made for, or NotOurs.

    Verified metadata is not enough: it must also be this account's and its company's, add
    up, and the object must be for exactly the payment's amount, in its currency (a copy of a
    real payment's metadata on a 50-cent PaymentIntent pays nothing).
    """
    payment = signed_payment(stripe_object.get("metadata"), keys)
    if isinstance(payment, NotOurs):
        return payment
    if payment.account_id != account.account_id:
        return NotOurs("signed for another connected account")
    if payment.company_id != account.company_id:
        return NotOurs("signed for a company that does not own this account")
    if sum(line.amount for line in payment.invoices) != payment.amount:
        return NotOurs("invoice lines do not add up to the amount")
    amount, currency = stripe_object.get("amount"), stripe_object.get("currency")
    if amount != payment.amount or not isinstance(currency, str):
        return NotOurs("the object's amount is not the payment's")
    if currency.lower() != payment.currency:
        return NotOurs("the object's currency is not the payment's")
    return payment


def settled_by(
    stored: Payment,
    signed: Payment,
    payment_intent_id: str | None = None,
    source_id: str | None = None,
) -> Payment | NotOurs:
    """The stored payment, if this object may settle it: its own PaymentIntent, or a Source
    that is (or may become) its bound one. Never another object merely naming it."""
    if _facts(stored) != _facts(signed):
        return NotOurs("the stored payment differs from what the metadata says")
    if payment_intent_id is not None and stored.payment_intent_id != payment_intent_id:
        return NotOurs("not the payment's own PaymentIntent")
    if source_id is not None and stored.source_id not in (None, source_id):
        return NotOurs("the payment is bound to another Source")
    return stored


def _facts(payment: Payment) -> tuple[Any, ...]:
    return (
        payment.payment_id,
        payment.company_id,
        payment.account_id,
        payment.amount,
        payment.currency,
        payment.invoices,
    )


def rebuilt(
    signed: Payment, payment_intent_id: str | None = None, source_id: str | None = None
) -> Payment:
    """The record of a payment that was created but never stored, bound to the object seen."""
    return replace(signed, payment_intent_id=payment_intent_id, source_id=source_id)


def _parse(metadata: Mapping[str, Any]) -> Payment | NotOurs:
    fields: dict[str, str] = {}
    patterns = {
        "payment_id": _ID,
        "company_id": _ID,
        "account_id": _ID,
        "amount": _AMOUNT,
        "currency": _CURRENCY,
        "created_at": _TIMESTAMP,
    }
    for name, pattern in patterns.items():
        value = metadata.get(name)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return NotOurs(f"metadata field {name} is missing or malformed")
        fields[name] = value
    invoices = _invoices(metadata)
    if invoices is None:
        return NotOurs("metadata invoices are malformed")
    return Payment(
        payment_id=fields["payment_id"],
        company_id=fields["company_id"],
        account_id=fields["account_id"],
        amount=int(fields["amount"]),
        currency=fields["currency"],
        invoices=invoices,
        created_at=fields["created_at"],
    )


def _invoices(metadata: Mapping[str, Any]) -> tuple[InvoiceLine, ...] | None:
    chunks = []
    for index in range(_MAX_CHUNKS + 1):
        chunk = metadata.get(f"{_INVOICE_KEY}{index}")
        if chunk is None:
            break
        if not isinstance(chunk, str):
            return None
        chunks.append(chunk)
    encoded = "".join(chunks)
    if not encoded or len(chunks) > _MAX_CHUNKS:
        return None
    lines = []
    for item in encoded.split(";"):
        invoice_id, _, amount = item.rpartition("=")
        if not _ID.fullmatch(invoice_id) or not _AMOUNT.fullmatch(amount):
            return None
        lines.append(InvoiceLine(invoice_id, int(amount)))
    return tuple(lines)
