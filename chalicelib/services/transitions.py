"""Recording what Stripe says about a payment: one conditional write, then the notification."""

from __future__ import annotations

from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.payments import Observation, Payment, apply, notification_of
from chalicelib.ports import Notifier, PaymentStore

_ATTEMPTS = 5


def record(
    payments: PaymentStore, notifier: Notifier, payment: Payment, seen: Observation, now: str
) -> Payment:
    """Apply the observation to the payment exactly once, however many callers race on it."""
    for _ in range(_ATTEMPTS):
        updated = apply(payment, seen, now)
        if updated is None:
            break
        try:
            payments.save(updated, payment.version, notification_of(updated))
        except ConcurrentUpdate:
            current = payments.get(payment.payment_id)
            if current is None:
                raise NotFound(f"payment {payment.payment_id} vanished") from None
            payment = current
            continue
        payment = updated
        break
    else:
        raise ConcurrentUpdate(f"payment {payment.payment_id} kept changing under us")
    publish_pending(payments, notifier, payment.payment_id)
    return payment


def publish_pending(payments: PaymentStore, notifier: Notifier, payment_id: str) -> int:
    """Publish notifications written but not yet published (also after a crash in between)."""
    pending = payments.unpublished(payment_id)
    for notification in pending:
        notifier.publish(notification)
        payments.mark_published(payment_id, notification["notification_id"])
    return len(pending)
