"""A company's connected accounts: at most one active, and the platform told of every change.

Each change is written with its notification (an outbox in the account's item) in one
transaction, then published; what a crash or an EventBridge outage leaves in the outbox is
published on the account's next touch. Notification ids are `<account_id>.v<version>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.accounts import (
    AccountChange,
    AccountNotification,
    AccountStatus,
    ActiveChange,
    ConnectedAccount,
    account_notification,
    connected,
    disconnected,
    pending_authorization,
    replaced,
)
from chalicelib.domain.connect import Attach, attach_outcome
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.imports import Import, ImportDecision, ImportRow, import_decision
from chalicelib.observability import logger
from chalicelib.ports import AccountRecords, Notifier

_ATTEMPTS = 5


@dataclass(frozen=True)
class Attached:
    outcome: Attach
    account: ConnectedAccount | None  # as stored afterwards (None: refused, never stored)
    found: ConnectedAccount | None  # the account as it was stored before, if it was
    replaced: ConnectedAccount | None = None  # the company's previous active account


@dataclass
class Accounts:
    records: AccountRecords
    # Called only when there is something to publish: the webhook Lambda never builds it.
    notifier: Callable[[], Notifier]

    def get(self, account_id: str) -> ConnectedAccount | None:
        return self.records.get(account_id)

    def connected_for_company(self, company_id: str) -> ConnectedAccount | None:
        active_id = self.records.active_account_id(company_id)
        active = self._active(company_id, active_id) if active_id else None
        if active is not None:
            return active
        accounts = self.records.for_company(company_id)
        # A replaced account takes no new payments, even when its successor is gone too.
        candidates = [a for a in accounts if a.is_active] or [
            a for a in accounts if a.status is not AccountStatus.REPLACED
        ]
        return candidates[0] if candidates else None

    def for_company(self, company_id: str) -> list[ConnectedAccount]:
        accounts = self.records.for_company(company_id)
        for account in accounts:
            self._publish_quietly(account.account_id)
        return accounts

    def put(self, account: ConnectedAccount) -> None:
        self.records.put(account)

    def set_webhook_secrets(
        self, account_id: str, secrets: tuple[str, ...]
    ) -> ConnectedAccount | None:
        return self.records.set_webhook_secrets(account_id, secrets)

    def mark_disconnected(self, account_id: str, at: str) -> ConnectedAccount | None:
        account = self._disconnect(account_id, at)
        if account is not None:
            # Also when it was disconnected already: a retried event or request publishes
            # what an earlier attempt could not.
            self.publish(account_id)
        return account

    def _disconnect(self, account_id: str, at: str) -> ConnectedAccount | None:
        for _ in range(_ATTEMPTS):
            account = self.records.get(account_id)
            if account is None or account.status is AccountStatus.DISCONNECTED:
                return account  # unknown, or disconnected already (the first writer wins)
            gone = disconnected(account, at)
            notice = account_notification(gone, AccountNotification.DISCONNECTED, at)
            was_active = self.records.active_account_id(account.company_id) == account_id
            active = ActiveChange(account.company_id, account_id, None) if was_active else None
            try:
                self.records.write([AccountChange(gone, account.version, notice)], active)
            except ConcurrentUpdate:
                continue
            return gone
        raise ConcurrentUpdate(f"account {account_id} kept changing under us")

    def attach(self, account: ConnectedAccount, replace: bool, at: str) -> Attached:
        """Connect the account for its company, in one transaction, if the rules allow it."""
        for _ in range(_ATTEMPTS):
            found = self.records.get(account.account_id)
            active_id = self.records.active_account_id(account.company_id)
            active = self._active(account.company_id, active_id)
            pending = self._pending(account.company_id, account.account_id)
            outcome = attach_outcome(
                found, active, account.company_id, replace, pending[0] if pending else None
            )
            if outcome in (
                Attach.TAKEN,
                Attach.ANOTHER_ACCOUNT_ACTIVE,
                Attach.ANOTHER_ACCOUNT_PENDING,
            ):
                return Attached(outcome, None, found)
            if outcome is Attach.ALREADY_CONNECTED:
                return Attached(outcome, found, found)
            now_active = connected(account, found)
            changes = [
                AccountChange(
                    now_active,
                    found.version if found else 0,
                    account_notification(now_active, AccountNotification.CONNECTED, at),
                )
            ]
            old = replaced(active, account.account_id, at) if active is not None else None
            if active is not None and old is not None:
                notice = account_notification(old, AccountNotification.REPLACED, at)
                changes.append(AccountChange(old, active.version, notice))
            for withdrawn in pending:
                # The platform chose another account for the company: the migrated one will
                # never be authorised for it (the account itself stays the company's).
                gone = disconnected(withdrawn, at)
                notice = account_notification(gone, AccountNotification.DISCONNECTED, at)
                changes.append(AccountChange(gone, withdrawn.version, notice))
            moved = ActiveChange(account.company_id, active_id, account.account_id)
            try:
                self.records.write(changes, moved)
            except ConcurrentUpdate:
                continue
            for change in changes:
                self._publish_quietly(change.account.account_id)
            return Attached(outcome, now_active, found, old)
        raise ConcurrentUpdate(f"company {account.company_id} kept changing under us")

    def _pending(self, company_id: str, except_id: str) -> list[ConnectedAccount]:
        """The company's other accounts pending authorisation (a migration imports one)."""
        found = self.records.for_company(company_id)
        return [a for a in found if a.is_pending and a.account_id != except_id]

    def import_pending(self, row: ImportRow, at: str) -> ImportDecision:
        """Store the row's account as pending authorisation, unless that would overwrite
        anything: the account (whatever its state), or the company's connected one."""
        for _ in range(_ATTEMPTS):
            found = self.records.get(row.account_id)
            active = self._active(row.company_id, self.records.active_account_id(row.company_id))
            decision = import_decision(row, found, active, self._pending(row.company_id, ""))
            if decision.outcome is not Import.IMPORTED:
                return decision
            account = pending_authorization(
                row.account_id, row.company_id, row.livemode, row.email, at
            )
            notice = account_notification(account, AccountNotification.PENDING_AUTHORIZATION, at)
            try:
                # Only if the account is still unknown and the company still has no active
                # account: an admin connecting meanwhile wins, and the row is looked at again.
                self.records.write(
                    [AccountChange(account, 0, notice)], None, no_active_for=row.company_id
                )
            except ConcurrentUpdate:
                continue
            self._publish_quietly(account.account_id)
            return decision
        raise ConcurrentUpdate(f"company {row.company_id} kept changing under us")

    def _active(self, company_id: str, active_id: str | None) -> ConnectedAccount | None:
        if active_id is not None:
            active = self.records.get(active_id)
            return active if active is not None and active.is_active else None
        # Accounts stored before companies had an active-account record: the latest active one.
        return next((a for a in self.records.for_company(company_id) if a.is_active), None)

    def publish(self, account_id: str) -> int:
        """Publish what the account's outbox holds; raises if the bus refuses (it stays there)."""
        pending: list[Mapping[str, Any]] = self.records.unpublished(account_id)
        for notification in pending:
            self.notifier().publish(notification)
            self.records.mark_published(account_id, notification["notification_id"])
        return len(pending)

    def with_unpublished(
        self, limit: int, start: Mapping[str, Any] | None = None
    ) -> tuple[list[str], Mapping[str, Any] | None]:
        """Accounts whose notifications wait in their outbox (the sweep publishes them)."""
        return self.records.with_unpublished(limit, start)

    def _publish_quietly(self, account_id: str) -> None:
        # The change is stored and stands; its notification waits for the next touch.
        try:
            self.publish(account_id)
        except Exception:
            logger.exception(
                "account notification not published yet", extra={"account": account_id}
            )
