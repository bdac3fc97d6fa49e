"""Recording what Stripe says about a payment: one conditional write, then the notification."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.errors import ConcurrentUpdate, NotFound
from chalicelib.domain.history import Cause, Reading, StripeObjectRead, change_entry
from chalicelib.domain.payments import Observation, Payment, apply, notification_of
from chalicelib.domain.sources import linked
from chalicelib.ports import Notifier, PaymentStore

_ATTEMPTS = 5


def record(
    payments: PaymentStore,
    notifier: Notifier,
    payment: Payment,
    observe: Callable[[], Observation | Reading],
    now: str,
    first: Observation | None = None,
    cause: Cause | None = None,
) -> Payment:
    """Apply what Stripe says about the payment, once, however many callers race on it.

    A change is only written on a Stripe read (`observe()`) made after the payment read that
    its conditional write depends on. Writes then land in the order of their reads: a caller
    that read Stripe before another one wrote can never put an older state over a newer one.
    `observe()` may answer first with a read already made, if it was made after `payment`
    was read (a caller that read the payment, then Stripe); after a lost write it must read
    Stripe again. `first`, a read made before the payment was read (or the event's copy of
    the object), spares that second read when it shows nothing new. `cause` (with the object
    read, when `observe` gives a Reading) goes into the payment's history in the same write
    as the change.
    """
    if first is None or apply(payment, first, now) is not None:
        for _ in range(_ATTEMPTS):
            seen, read = _split(observe())
            updated = apply(payment, seen, now)
            if updated is None:
                break
            change = None if cause is None else change_entry(payment, updated, cause, read, now)
            try:
                payments.save(updated, payment.version, notification_of(updated), change)
            except ConcurrentUpdate:
                payment = _reread(payments, payment)
                continue
            payment = updated
            break
        else:
            raise ConcurrentUpdate(f"payment {payment.payment_id} kept changing under us")
    publish_pending(payments, notifier, payment.payment_id)
    return payment


def _split(seen: Observation | Reading) -> tuple[Observation, StripeObjectRead | None]:
    if isinstance(seen, Reading):
        return seen.observation, seen.read
    return seen, None


def link_source(
    payments: PaymentStore,
    payment: Payment,
    source_id: str,
    now: str,
    cause: Cause | None = None,
    read: StripeObjectRead | None = None,
) -> Payment:
    """Bind the payment to the Source about to be charged; the payment as stored afterwards.

    Not a change of state, so the platform is not told; its history says so.
    """
    for _ in range(_ATTEMPTS):
        updated = linked(payment, source_id, now)
        if updated is None:
            return payment
        change = None if cause is None else change_entry(payment, updated, cause, read, now)
        try:
            payments.save(updated, payment.version, None, change)
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
    pending = payments.unpublished(payment_id)  # in version order
    for notification in pending:
        notifier.publish(notification)
        payments.mark_published(payment_id, notification["notification_id"])
    return len(pending)
