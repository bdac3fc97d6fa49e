"""Customers' saved payment methods: recorded from Stripe's bank accounts, read by the platform."""

from __future__ import annotations

from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.payment_methods import SavedPaymentMethod, apply_bank_account
from chalicelib.ports import PaymentMethodStore

_ATTEMPTS = 5


def record_bank_account(
    store: PaymentMethodStore, seen: SavedPaymentMethod, now: str
) -> SavedPaymentMethod | None:
    """Store what Stripe says about the bank account, once, whoever else is writing it."""
    for _ in range(_ATTEMPTS):
        stored = store.get(seen.account_id, seen.payment_method_id)
        updated = apply_bank_account(stored, seen, now)
        if updated is None:
            return stored
        try:
            store.save(updated, stored.version if stored is not None else 0)
        except ConcurrentUpdate:
            continue
        return updated
    raise ConcurrentUpdate(f"payment method {seen.payment_method_id} kept changing under us")


def saved_payment_method(
    store: PaymentMethodStore, account_id: str, payment_method_id: str
) -> SavedPaymentMethod:
    method = store.get(account_id, payment_method_id)
    if method is None:
        raise NotFound(f"no payment method {payment_method_id} on account {account_id}")
    return method
