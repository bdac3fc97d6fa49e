"""The reconciliation sweep: open payments due for a check are read again from Stripe, and
notifications left in an outbox are published, with no webhook needed.

Its work is proportional to what needs attention: the payments it reads come from a sparse
index of open payments by next check time, the outboxes from sparse `unpublished` indexes.
A checked payment's next check moves back on a backoff, so a run that stops (out of time,
Stripe unavailable) leaves the rest due, and the next run resumes with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.errors import StripeRejected, StripeUnavailable
from chalicelib.domain.history import SWEEP
from chalicelib.domain.payments import Payment
from chalicelib.domain.sweep import (
    DEFAULT_BACKOFF_SECONDS,
    CheckStatus,
    is_open,
    schedule_after_check,
)
from chalicelib.observability import count, logger
from chalicelib.ports import Notifier, PaymentStore, StripeGateway, SweepStore
from chalicelib.services.accounts import Accounts
from chalicelib.services.repair import Repairer
from chalicelib.services.transitions import publish_pending

# Far enough ahead that every open payment is due (an operator's run of every open payment).
EVERY_OPEN = "9999-12-31T23:59:59.999+00:00"


class Checked(StrEnum):
    UNCHANGED = "unchanged"  # Stripe says what the service knew; checked again later
    CHANGED = "changed"  # applied through the consumer's transition (or changed meanwhile)
    NOT_CHECKED = "not_checked"  # the account is disconnected
    ACCESS_REVOKED = "access_revoked"  # Stripe refused to read as the account
    FAILED = "failed"  # an error of this payment; checked again later
    SKIPPED = "skipped"  # not open any more, or not of the account asked for


@dataclass
class SweepReport:
    checked: dict[str, int] = field(default_factory=dict)
    notifications_published: int = 0
    complete: bool = True  # False: out of time or Stripe unavailable, the rest stays due
    stopped_because: str | None = None

    def add(self, outcome: Checked) -> None:
        self.checked[str(outcome)] = self.checked.get(str(outcome), 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": dict(sorted(self.checked.items())),
            "notifications_published": self.notifications_published,
            "complete": self.complete,
            "stopped_because": self.stopped_because,
        }


@dataclass
class Sweep:
    payments: PaymentStore
    schedule: SweepStore
    accounts: Accounts
    stripe: StripeGateway
    notifier: Notifier
    repairer: Repairer
    clock: Callable[[], str]
    backoff: tuple[int, ...] = DEFAULT_BACKOFF_SECONDS
    page_size: int = 25

    def run(
        self,
        time_left: Callable[[], float],
        account_id: str | None = None,
        every_open: bool = False,
        on_payment: Callable[[str, Checked], None] | None = None,
    ) -> SweepReport:
        """One run, while `time_left()` (seconds) allows: outboxes first, then due payments."""
        report = SweepReport()
        self._publish_outboxes(time_left, report, account_id)
        if report.complete:
            self._check_due(time_left, report, account_id, every_open, on_payment)
        return report

    # --- outboxes -----------------------------------------------------------------------

    def _publish_outboxes(
        self, time_left: Callable[[], float], report: SweepReport, account_id: str | None
    ) -> None:
        for payment_id in self._pages(self.schedule.with_unpublished, time_left, report):
            if account_id is not None:
                payment = self.payments.get(payment_id)
                if payment is None or payment.account_id != account_id:
                    continue
            try:
                report.notifications_published += publish_pending(
                    self.payments, self.notifier, payment_id
                )
            except Exception:
                # It stays in the outbox for the next run; the others go on.
                logger.exception("notification not published", extra={"payment_id": payment_id})
        if not report.complete:
            return
        for account in self._pages(self.accounts.with_unpublished, time_left, report):
            if account_id is not None and account != account_id:
                continue
            try:
                report.notifications_published += self.accounts.publish(account)
            except Exception:
                logger.exception("account notification not published", extra={"account": account})

    def _pages(
        self,
        page: Callable[..., tuple[list[Any], Mapping[str, Any] | None]],
        time_left: Callable[[], float],
        report: SweepReport,
        *args: Any,
    ) -> Any:
        start: Mapping[str, Any] | None = None
        while True:
            if time_left() <= 0:
                report.complete, report.stopped_because = False, "out of time"
                return
            items, start = page(*args, self.page_size, start)
            yield from items
            if not start:
                return

    # --- open payments --------------------------------------------------------------------

    def _check_due(
        self,
        time_left: Callable[[], float],
        report: SweepReport,
        account_id: str | None,
        every_open: bool,
        on_payment: Callable[[str, Checked], None] | None,
    ) -> None:
        now = EVERY_OPEN if every_open else self.clock()
        revoked: set[str] = set()
        for payment_id, checks in self._pages(self.schedule.due, time_left, report, now):
            if time_left() <= 0:
                report.complete, report.stopped_because = False, "out of time"
                return
            try:
                outcome = self._check(payment_id, checks, account_id, revoked)
            except StripeUnavailable as error:
                # The rest would wait out the same timeouts: they stay due for the next run.
                logger.warning(
                    "Stripe unavailable; the sweep stops here", extra={"why": str(error)}
                )
                report.complete, report.stopped_because = False, "Stripe unavailable"
                return
            if outcome is Checked.SKIPPED:
                continue
            report.add(outcome)
            count(f"Sweep_{outcome}")
            if on_payment is not None:
                on_payment(payment_id, outcome)

    def _check(
        self, payment_id: str, checks: int, account_id: str | None, revoked: set[str]
    ) -> Checked:
        payment = self.payments.get(payment_id)
        if payment is None or not is_open(payment):
            return Checked.SKIPPED
        if account_id is not None and payment.account_id != account_id:
            return Checked.SKIPPED
        logger.append_keys(payment_id=payment_id, account=payment.account_id)
        try:
            account = self.accounts.get(payment.account_id)
            if payment.account_id in revoked:
                self._later(payment, checks, CheckStatus.ACCOUNT_ACCESS_REVOKED)
                return Checked.ACCESS_REVOKED
            if account is None or not account.has_access:
                self._later(payment, checks, CheckStatus.ACCOUNT_DISCONNECTED)
                return Checked.NOT_CHECKED
            try:
                self._read_and_apply(account, payment)
            except StripeRejected as rejected:
                if self._access_revoked(account, rejected):
                    revoked.add(account.account_id)
                    self._later(payment, checks, CheckStatus.ACCOUNT_ACCESS_REVOKED)
                    return Checked.ACCESS_REVOKED
                logger.warning(
                    "Stripe refused to read the payment's object",
                    extra={"code": rejected.code, "status": rejected.status},
                )
                self._later(payment, checks)
                return Checked.FAILED
            except StripeUnavailable:
                raise
            except Exception:
                logger.exception("payment check failed; checked again later")
                self._later(payment, checks)
                return Checked.FAILED
            # Unchanged if its version is still the one read (a change set its own schedule).
            if self._later(payment, checks):
                return Checked.UNCHANGED
            return Checked.CHANGED
        finally:
            logger.remove_keys(["payment_id", "account"])

    def _read_and_apply(self, account: ConnectedAccount, payment: Payment) -> None:
        """Stripe's object of the payment, read as the account, applied as the consumer does."""
        account_id = account.account_id
        if payment.source_id is not None:
            # Paid (or being paid) from a legacy Source: its PaymentIntent was closed for it.
            if payment.charge_id is not None:
                charge = self.stripe.retrieve_charge(account_id, payment.charge_id)
                self.repairer.record_charge(account, payment, charge, SWEEP)
                return
            source = self.stripe.retrieve_source(account_id, payment.source_id)
            self.repairer.charge_source(account, payment, source, SWEEP)
            return
        if payment.payment_intent_id is not None:
            self.repairer.record_payment_intent(account, payment, SWEEP)
            return
        if payment.charge_id is not None:
            charge = self.stripe.retrieve_charge(account_id, payment.charge_id)
            self.repairer.record_charge(account, payment, charge, SWEEP)

    def _access_revoked(self, account: ConnectedAccount, rejected: StripeRejected) -> bool:
        """Stripe's 403 (account_invalid, permission error) confirmed by the account itself;
        then the account is marked disconnected (the platform is told) and never read again
        until it reconnects."""
        if rejected.status != 403 and rejected.code != "account_invalid":
            return False
        if self.stripe.account_is_connected(account.account_id):
            return False
        logger.warning("Stripe revoked the platform's access to the account; marked disconnected")
        count("SweepAccountRevoked")
        self.accounts.mark_disconnected(account.account_id, self.clock())
        return True

    def _later(
        self, payment: Payment, checks: int, status: CheckStatus = CheckStatus.SCHEDULED
    ) -> bool:
        return self.schedule.reschedule(
            payment, schedule_after_check(checks, self.clock(), self.backoff, status)
        )
