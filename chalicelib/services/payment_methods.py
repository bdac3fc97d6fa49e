"""Customers' saved payment methods: recorded from Stripe's bank accounts, read by the platform,
which is told of each change (`payment_method.updated`, at least once)."""

from __future__ import annotations

from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.payment_methods import (
    SavedPaymentMethod,
    apply_bank_account,
    payment_method_notification,
)
from chalicelib.ports import Notifier, PaymentMethodStore

_ATTEMPTS = 5


def record_bank_account(
    store: PaymentMethodStore,
    notifier: Notifier,
    seen: SavedPaymentMethod,
    company_id: str,
    now: str,
) -> SavedPaymentMethod | None:
    """Store what Stripe says about the bank account, once, whoever else is writing it, and
    tell the platform.

    The notification is written with the change and published afterwards: a crash or a bus
    outage in between leaves it in the outbox, and the retried event, which finds nothing new
    to store, publishes it then.
    """
    for _ in range(_ATTEMPTS):
        stored = store.get(seen.account_id, seen.payment_method_id)
        updated = apply_bank_account(stored, seen, now)
        if updated is None:
            break
        try:
            store.save(
                updated,
                stored.version if stored is not None else 0,
                payment_method_notification(updated, company_id),
            )
        except ConcurrentUpdate:
            continue
        stored = updated
        break
    else:
        raise ConcurrentUpdate(f"payment method {seen.payment_method_id} kept changing under us")
    publish_pending(store, notifier, seen.account_id, seen.payment_method_id)
    return stored


def publish_pending(
    store: PaymentMethodStore, notifier: Notifier, account_id: str, payment_method_id: str
) -> int:
    """Publish the method's notifications written but not yet published, oldest first."""
    pending = store.unpublished(account_id, payment_method_id)
    for notification in pending:
        notifier.publish(notification)
        store.mark_published(account_id, payment_method_id, notification["notification_id"])
    return len(pending)


def saved_payment_method(
    store: PaymentMethodStore, account_id: str, payment_method_id: str
) -> SavedPaymentMethod:
    method = store.get(account_id, payment_method_id)
    if method is None:
        raise NotFound(f"no payment method {payment_method_id} on account {account_id}")
    return method
