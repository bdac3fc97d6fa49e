"""Recording what Stripe says about a payment: one conditional write, then the notification."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.payments import Observation, Payment, apply, notification_of
from chalicelib.domain.sources import linked
from chalicelib.ports import Notifier, PaymentStore

_ATTEMPTS = 5


def record(
    payments: PaymentStore,
    notifier: Notifier,
    payment: Payment,
    observe: Callable[[], Observation],
    now: str,
    first: Observation | None = None,
) -> Payment:
    """Apply what Stripe says about the payment, once, however many callers race on it.

    A change is only written on a Stripe read (`observe()`) made after the payment read that
    its conditional write depends on. Writes then land in the order of their reads: a caller
    that read Stripe before another one wrote can never put an older state over a newer one.
    `observe()` may answer first with a read already made, if it was made after `payment`
    was read (a caller that read the payment, then Stripe); after a lost write it must read
    Stripe again. `first`, a read made before the payment was read (or the event's copy of
    the object), spares that second read when it shows nothing new.
    """
    if first is None or apply(payment, first, now) is not None:
        for _ in range(_ATTEMPTS):
            updated = apply(payment, observe(), now)
            if updated is None:
                break
            try:
                payments.save(updated, payment.version, notification_of(updated))
            except ConcurrentUpdate:
                payment = _reread(payments, payment)
                continue
            payment = updated
            break
        else:
            raise ConcurrentUpdate(f"payment {payment.payment_id} kept changing under us")
    publish_pending(payments, notifier, payment.payment_id)
    return payment


def link_source(payments: PaymentStore, payment: Payment, source_id: str, now: str) -> Payment:
    """Bind the payment to the Source about to be charged; the payment as stored afterwards.

    Not a change of state, so the platform is not told.
    """
    for _ in range(_ATTEMPTS):
        updated = linked(payment, source_id, now)
        if updated is None:
            return payment
        try:
            payments.save(updated, payment.version, None)
        except ConcurrentUpdate:
            payment = _reread(payments, payment)
            continue
        return updated
    raise ConcurrentUpdate(f"payment {payment.payment_id} kept changing under us")


def _reread(payments: PaymentStore, payment: Payment) -> Payment:
    current = payments.get(payment.payment_id)
    if current is None:
        raise NotFound(f"payment {payment.payment_id} vanished")
    return current


def publish_pending(payments: PaymentStore, notifier: Notifier, payment_id: str) -> int:
    """Publish notifications written but not yet published (also after a crash in between)."""
    pending = payments.unpublished(payment_id)
    for notification in pending:
        notifier.publish(notification)
        payments.mark_published(payment_id, notification["notification_id"])
    return len(pending)
