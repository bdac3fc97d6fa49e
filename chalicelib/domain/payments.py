"""Payments and the rules that move them: the one place that decides what Stripe's truth means."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import CurrencyMismatch, MalformedObject


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PARTIALLY_FUNDED = "partially_funded"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


# The detail-type of what the platform is told when a payment changes.
PAYMENT_UPDATED = "payment.updated"

TERMINAL = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED})


@dataclass(frozen=True)
class InvoiceLine:
    invoice_id: str
    amount: int


@dataclass(frozen=True)
class DuplicateCharge:
    """Money Stripe took for a payment already paid another way: the platform decides on a
    refund, the service never refunds on its own."""

    charge_id: str
    amount: int


@dataclass(frozen=True)
class Payment:
    """A payment the platform asked for, as the service knows it."""

    payment_id: str
    company_id: str
    account_id: str
    amount: int
    currency: str
    invoices: tuple[InvoiceLine, ...]
    created_at: str
    status: PaymentStatus = PaymentStatus.PENDING
    payment_intent_id: str | None = None
    amount_received: int = 0
    amount_remaining: int | None = None
    charge_id: str | None = None
    source_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    # Stripe's PaymentMethod of the latest attempt seen (the one that failed, when failed).
    payment_method_id: str | None = None
    duplicate_charges: tuple[DuplicateCharge, ...] = ()
    version: int = 0
    updated_at: str | None = None


@dataclass(frozen=True)
class Observation:
    """What Stripe says about a payment right now, reduced to what the rules need."""

    status: PaymentStatus
    currency: str
    amount_received: int = 0
    amount_remaining: int | None = None
    charge_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    payment_method_id: str | None = None


def observe_payment_intent(payment_intent: Mapping[str, Any]) -> Observation:
    """Map a PaymentIntent (as Stripe returns it) to an observation."""
    try:
        return _observe_payment_intent(payment_intent)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedObject(f"PaymentIntent not understood: {type(error).__name__}") from None


def _observe_payment_intent(payment_intent: Mapping[str, Any]) -> Observation:
    status = payment_intent["status"]
    error = payment_intent.get("last_payment_error") or {}
    received = payment_intent.get("amount_received") or 0
    common = {
        "currency": payment_intent["currency"],
        "amount_received": received,
        "charge_id": expandable_id(payment_intent.get("latest_charge")),
        "payment_method_id": expandable_id(payment_intent.get("payment_method")),
    }
    if status == "succeeded":
        return Observation(PaymentStatus.SUCCEEDED, amount_remaining=0, **common)
    if status == "processing":
        return Observation(PaymentStatus.PROCESSING, **common)
    if status == "canceled":
        return Observation(PaymentStatus.CANCELED, **common)
    remaining = _bank_transfer_remaining(payment_intent)
    if remaining is not None:
        # Whichever of its two totals Stripe moves, what is still owed is the smaller.
        owed = min(remaining, payment_intent["amount"] - received)
        if owed < payment_intent["amount"]:
            return Observation(PaymentStatus.PARTIALLY_FUNDED, amount_remaining=owed, **common)
    if status == "requires_payment_method" and error:
        # Stripe puts a failed attempt's PaymentIntent back to requires_payment_method, with
        # the PaymentMethod that failed in the error (the PaymentIntent's own is cleared).
        return Observation(
            PaymentStatus.FAILED,
            failure_code=error.get("decline_code") or error.get("code"),
            failure_message=error.get("message"),
            **{
                **common,
                "payment_method_id": expandable_id(error.get("payment_method"))
                or common["payment_method_id"],
            },
        )
    return Observation(PaymentStatus.PENDING, **common)


def observe_charge(charge: Mapping[str, Any]) -> Observation:
    """Map a Charge (legacy Source charges have no PaymentIntent) to an observation."""
    try:
        return _observe_charge(charge)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise MalformedObject(f"Charge not understood: {type(error).__name__}") from None


def _observe_charge(charge: Mapping[str, Any]) -> Observation:
    status = {
        "succeeded": PaymentStatus.SUCCEEDED,
        "pending": PaymentStatus.PROCESSING,
        "failed": PaymentStatus.FAILED,
    }[charge["status"]]
    succeeded = status is PaymentStatus.SUCCEEDED
    return Observation(
        status,
        currency=charge["currency"],
        amount_received=charge["amount"] if succeeded else 0,
        amount_remaining=0 if succeeded else None,
        charge_id=charge["id"],
        failure_code=charge.get("failure_code"),
        failure_message=charge.get("failure_message"),
        payment_method_id=expandable_id(charge.get("payment_method")),
    )


def apply(payment: Payment, seen: Observation, now: str) -> Payment | None:
    """The payment after Stripe's observation, or None when it changes nothing.

    State only moves forward: a terminal payment never changes; a late or stale observation
    of an attempt that already failed never brings it back; after a failure, only a new
    attempt moves the payment (to any state, another failure included).
    """
    if seen.currency.lower() != payment.currency.lower():
        raise CurrencyMismatch(payment.payment_id, payment.currency, seen.currency)
    if payment.status is PaymentStatus.SUCCEEDED:
        return _duplicate(payment, seen, now)
    if seen.status is PaymentStatus.CANCELED and payment.source_id is not None:
        # The service cancels the PaymentIntent of a payment its bound Source is paying.
        return None
    seen = _short_of(payment, seen)
    if payment.status in TERMINAL or not _moves_forward(payment, seen):
        return None
    updated = replace(
        payment,
        status=seen.status,
        amount_received=max(seen.amount_received, payment.amount_received)
        if seen.status is not PaymentStatus.FAILED
        else payment.amount_received,
        amount_remaining=seen.amount_remaining,
        charge_id=seen.charge_id or payment.charge_id,
        payment_method_id=seen.payment_method_id or payment.payment_method_id,
        failure_code=seen.failure_code if seen.status is PaymentStatus.FAILED else None,
        failure_message=seen.failure_message if seen.status is PaymentStatus.FAILED else None,
    )
    if _same_facts(updated, payment):
        return None
    return replace(updated, version=payment.version + 1, updated_at=now)


def _short_of(payment: Payment, seen: Observation) -> Observation:
    """Stripe's success with less than the payment's amount (someone else's object, or a
    partial capture) leaves the payment open, with what is still owed."""
    if seen.status is not PaymentStatus.SUCCEEDED or seen.amount_received >= payment.amount:
        return seen
    return replace(
        seen,
        status=PaymentStatus.PARTIALLY_FUNDED,
        amount_remaining=payment.amount - seen.amount_received,
    )


def _duplicate(payment: Payment, seen: Observation, now: str) -> Payment | None:
    """A paid payment changes only to record a second succeeded Charge, once."""
    charge_id = seen.charge_id
    known = {payment.charge_id, *(c.charge_id for c in payment.duplicate_charges)}
    if seen.status is not PaymentStatus.SUCCEEDED or charge_id is None or charge_id in known:
        return None
    duplicate = DuplicateCharge(charge_id, seen.amount_received)
    return replace(
        payment,
        duplicate_charges=(*payment.duplicate_charges, duplicate),
        version=payment.version + 1,
        updated_at=now,
    )


def _moves_forward(payment: Payment, seen: Observation) -> bool:
    current, target = payment.status, seen.status
    if target in TERMINAL:
        return True
    if current is PaymentStatus.FAILED:
        return _another_attempt(payment, seen)
    if current is PaymentStatus.PROCESSING and target is not PaymentStatus.FAILED:
        # Stripe leaves processing only to settle or to fail. A read that names the debit's
        # Charge but awaits another way to pay, or names another Charge, comes after the debit
        # failed (its failure unseen): never from before the debit began, which names none,
        # or an older one (and record() applies no read older than the payment).
        return seen.charge_id is not None and (
            seen.charge_id != payment.charge_id or target is not PaymentStatus.PROCESSING
        )
    if target is PaymentStatus.PENDING:
        return False
    if target is PaymentStatus.PARTIALLY_FUNDED:
        return current in (
            PaymentStatus.PENDING,
            PaymentStatus.PARTIALLY_FUNDED,
        ) and _funded_further(payment, seen)
    if target is PaymentStatus.PROCESSING:
        return current is PaymentStatus.PENDING or current is PaymentStatus.PARTIALLY_FUNDED
    return True  # FAILED from pending, processing or partially funded


def _another_attempt(failed: Payment, seen: Observation) -> bool:
    """Whether Stripe shows an attempt made after the one that failed, or another failure.

    Stripe keeps no count of attempts, and an attempt without a Charge (3-D Secure, a bank
    transfer) leaves none: a new Charge, another PaymentMethod, or money received since the
    failure each tell a new attempt; a failure whose Stripe facts differ is another failure.
    The same failure seen again is none of these.
    """
    if seen.charge_id is not None and seen.charge_id != failed.charge_id:
        return True
    if (
        seen.payment_method_id is not None
        and failed.payment_method_id is not None
        and seen.payment_method_id != failed.payment_method_id
    ):
        return True
    if seen.status is PaymentStatus.FAILED:
        return (seen.failure_code, seen.failure_message) != (
            failed.failure_code,
            failed.failure_message,
        )
    return _funded_further(failed, seen)


def _funded_further(payment: Payment, seen: Observation) -> bool:
    """Stripe shows more money in than the payment knows of, by either of its totals (it may
    move what is received, what is still owed, or both), and neither went back."""
    owed_before = _owed(payment.amount, payment.amount_received, payment.amount_remaining)
    owed_now = _owed(payment.amount, seen.amount_received, seen.amount_remaining)
    if seen.amount_received < payment.amount_received or owed_now > owed_before:
        return False
    return seen.amount_received > payment.amount_received or owed_now < owed_before


def _owed(amount: int, received: int, remaining: int | None) -> int:
    return min(amount - received, amount if remaining is None else remaining)


def _same_facts(a: Payment, b: Payment) -> bool:
    return replace(a, version=0, updated_at=None) == replace(b, version=0, updated_at=None)


def expandable_id(value: Any) -> str | None:
    """The id of one of Stripe's expandable fields: an id, an expanded object, or nothing."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value or None


def _bank_transfer_remaining(payment_intent: Mapping[str, Any]) -> int | None:
    next_action = payment_intent.get("next_action") or {}
    instructions = next_action.get("display_bank_transfer_instructions") or {}
    remaining = instructions.get("amount_remaining")
    return int(remaining) if remaining is not None else None


def describe(payment: Payment) -> dict[str, Any]:
    """The payment's facts as the platform sees them, in the API and in notifications."""
    return {
        "payment_id": payment.payment_id,
        "company_id": payment.company_id,
        "account_id": payment.account_id,
        "status": str(payment.status),
        "amount": payment.amount,
        "amount_received": payment.amount_received,
        "amount_remaining": payment.amount_remaining,
        "currency": payment.currency,
        "invoices": [{"invoice_id": i.invoice_id, "amount": i.amount} for i in payment.invoices],
        "payment_intent_id": payment.payment_intent_id,
        "charge_id": payment.charge_id,
        "source_id": payment.source_id,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "payment_method_id": payment.payment_method_id,
        "duplicate_charges": [
            {"charge_id": c.charge_id, "amount": c.amount} for c in payment.duplicate_charges
        ],
    }


def notification_of(payment: Payment) -> dict[str, Any]:
    """What the platform is told when a payment changes; its id is stable across re-sends."""
    return {
        "notification_id": f"{payment.payment_id}.v{payment.version}",
        "type": PAYMENT_UPDATED,
        "version": payment.version,
        **describe(payment),
        "occurred_at": payment.updated_at,
    }
