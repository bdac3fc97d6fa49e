"""Customers' saved bank accounts and how far their verification got, for the platform to offer,
and what the platform is told when that changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

PAYMENT_METHOD_UPDATED = "payment_method.updated"

# Stripe's bank account statuses, in the order verification moves through them.
_PROGRESS = {"new": 0, "validated": 1, "verified": 2, "verification_failed": 2, "errored": 3}


@dataclass(frozen=True)
class SavedPaymentMethod:
    account_id: str
    payment_method_id: str
    type: str
    status: str
    customer_id: str | None = None
    bank_name: str | None = None
    last4: str | None = None
    country: str | None = None
    currency: str | None = None
    version: int = 0
    updated_at: str | None = None


def observe_bank_account(bank_account: Mapping[str, Any], account_id: str) -> SavedPaymentMethod:
    """A bank account as Stripe returns it (`GET /v1/customers/{cus}/sources/{ba}`)."""
    return SavedPaymentMethod(
        account_id=account_id,
        payment_method_id=bank_account["id"],
        type=bank_account.get("object") or "bank_account",
        status=bank_account["status"],
        customer_id=bank_account.get("customer"),
        bank_name=bank_account.get("bank_name"),
        last4=bank_account.get("last4"),
        country=bank_account.get("country"),
        currency=bank_account.get("currency"),
    )


def apply_bank_account(
    stored: SavedPaymentMethod | None, seen: SavedPaymentMethod, now: str
) -> SavedPaymentMethod | None:
    """What to store after seeing the bank account, or None when it changes nothing.

    Verification only moves forward: a stale read never takes `verified` back to `new`, and a
    settled outcome (`verified` or `verification_failed`) is not swapped for the other.
    """
    if stored is not None:
        if seen.status != stored.status and _rank(seen.status) <= _rank(stored.status):
            return None
        if _same(seen, stored):
            return None
    version = stored.version if stored is not None else 0
    return replace(seen, version=version + 1, updated_at=now)


def _rank(status: str) -> int:
    return _PROGRESS.get(status, 0)


def _same(a: SavedPaymentMethod, b: SavedPaymentMethod) -> bool:
    return replace(a, version=0, updated_at=None) == replace(b, version=0, updated_at=None)


def describe_payment_method(method: SavedPaymentMethod) -> dict[str, Any]:
    """The saved payment method as the platform sees it, in the API and in notifications."""
    return {
        "account_id": method.account_id,
        "payment_method_id": method.payment_method_id,
        "type": method.type,
        "status": method.status,
        "customer_id": method.customer_id,
        "bank_name": method.bank_name,
        "last4": method.last4,
        "country": method.country,
        "currency": method.currency,
        "updated_at": method.updated_at,
    }


def payment_method_notification(method: SavedPaymentMethod, company_id: str) -> dict[str, Any]:
    """What the platform is told when a saved bank account changes (its verification above all).

    One per stored version, under an id that is the same on every re-send. The method sits
    under its own key: its `type` (`bank_account`) is not the notification's.
    """
    return {
        "notification_id": f"{method.account_id}.{method.payment_method_id}.v{method.version}",
        "type": PAYMENT_METHOD_UPDATED,
        "version": method.version,
        "company_id": company_id,
        "account_id": method.account_id,
        "payment_method_id": method.payment_method_id,
        "status": method.status,
        "payment_method": describe_payment_method(method),
        "occurred_at": method.updated_at,
    }
