"""Recording what Stripe says about a payment: one conditional write, then the notification."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.payments import Observation, Payment, apply, notification_of
from chalicelib.domain.sources import linked
from chalicelib.ports import Notifier, PaymentStore

_ATTEMPTS = 5


def record(
    payments: PaymentStore, notifier: Notifier, payment: Payment, seen: Observation, now: str
) -> Payment:
    """Apply the observation to the payment exactly once, however many callers race on it."""
    payment = _write(payments, payment, lambda current: apply(current, seen, now), notify=True)
    publish_pending(payments, notifier, payment.payment_id)
    return payment


def link_source(payments: PaymentStore, payment: Payment, source_id: str, now: str) -> Payment:
    """Bind the payment to the Source about to be charged; the payment as stored afterwards.

    Not a change of state, so the platform is not told.
    """
    return _write(payments, payment, lambda current: linked(current, source_id, now), notify=False)


def _write(
    payments: PaymentStore,
    payment: Payment,
    decide: Callable[[Payment], Payment | None],
    notify: bool,
) -> Payment:
    """Write what `decide` makes of the stored payment, re-reading and deciding again on a race."""
    for _ in range(_ATTEMPTS):
        updated = decide(payment)
        if updated is None:
            return payment
        try:
            payments.save(updated, payment.version, notification_of(updated) if notify else None)
        except ConcurrentUpdate:
            current = payments.get(payment.payment_id)
            if current is None:
                raise NotFound(f"payment {payment.payment_id} vanished") from None
            payment = current
            continue
        return updated
    raise ConcurrentUpdate(f"payment {payment.payment_id} kept changing under us")


def publish_pending(payments: PaymentStore, notifier: Notifier, payment_id: str) -> int:
    """Publish notifications written but not yet published (also after a crash in between)."""
    pending = payments.unpublished(payment_id)
    for notification in pending:
        notifier.publish(notification)
        payments.mark_published(payment_id, notification["notification_id"])
    return len(pending)
