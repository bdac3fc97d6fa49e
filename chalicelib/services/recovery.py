"""Missed-event recovery: queue again, as the webhook would, the events Stripe has for an account.

All handled types since the watermark are listed, not only `delivery_success=false`: an event
sent while the endpoint was disabled was meant for no endpoint and so never counts as failed;
an event that one of an account's two endpoints took counts as delivered even if the other,
ours, failed; and one a stage accepted and then lost counts as delivered too. The consumer's
idempotency on the event id makes the second arrival of a delivered event harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.recovery import (
    Window,
    advance,
    halved,
    is_recovered,
    to_queue,
    window_for,
)
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES, Verdict, decide, envelope_of
from chalicelib.observability import logger
from chalicelib.ports import (
    AccountDirectory,
    AccountStore,
    EventLog,
    EventQueue,
    WatermarkStore,
    WorkQueue,
)


@dataclass(frozen=True)
class AccountRecovery:
    account_id: str
    outcome: str  # recovered, incomplete, not_recovered, unknown_account
    queued: tuple[str, ...] = ()  # event ids, oldest first
    expired: bool = False  # the watermark was older than Stripe's 30 days
    scanned_until: int | None = None


@dataclass
class Recovery:
    accounts: AccountStore
    events: EventLog
    marks: WatermarkStore
    queue: EventQueue
    livemode: bool
    now: Callable[[], int]  # unix seconds
    timestamp: Callable[[], str]
    overlap_seconds: int = 300
    max_pages: int = 10

    def recover_account(self, account_id: str, since: int | None = None) -> AccountRecovery:
        """Queue the account's events not queued yet; `since` lists again from that time."""
        account = self.accounts.get(account_id)
        if account is None:
            return AccountRecovery(account_id, "unknown_account")
        if not is_recovered(str(account.status)):
            return AccountRecovery(account_id, "not_recovered")
        mark = self.marks.get(account_id)
        now = self.now()
        # An imported account starts at its import: what happened while it waited for its
        # admin's authorisation is caught up on (within Stripe's 30 days, see window_for).
        start = since if since is not None else _unix(account.known_since)
        window = window_for(None if since is not None else mark, now, start, self.overlap_seconds)
        floor = mark.scanned_until if mark is not None and since is None else window.since
        listed = self._list(account_id, window, floor)
        if listed is None:
            raise RuntimeError(
                f"account {account_id}: more than {self.max_pages} pages of events within "
                f"{self.overlap_seconds} s; raise RECOVERY_MAX_PAGES"
            )
        window, events = listed
        done, sent, failed = self._queue(account_id, to_queue(events, mark))
        new_mark = advance(mark, window, done, failed, self.overlap_seconds)
        # A lost race means another run moved it; what both queued is harmless twice.
        self.marks.save(account_id, new_mark, self.timestamp())
        return AccountRecovery(
            account_id,
            "incomplete" if failed is not None else "recovered",
            tuple(sent),
            window.expired,
            new_mark.scanned_until,
        )

    def _list(
        self, account_id: str, window: Window, floor: int
    ) -> tuple[Window, list[dict]] | None:
        current: Window | None = window
        while current is not None:
            events = self.events.list_events(
                account_id, HANDLED_EVENT_TYPES, current.since, current.until, self.max_pages
            )
            if events is not None:
                return current, events
            current = halved(current, floor)  # the rest waits for the next run
        return None

    def _queue(
        self, account_id: str, events: list[dict]
    ) -> tuple[list[dict], list[str], dict | None]:
        """(events done with, ids sent, the first that could not be sent)."""
        done: list[dict] = []
        sent: list[str] = []
        for event in events:
            try:
                envelope = envelope_of(event)
            except InvalidInput:
                done.append(event)  # nothing the consumer could do with it, ever
                continue
            # Listed as the account, so it is the account's, as on its dedicated URL.
            envelope = replace(envelope, account=envelope.account or account_id)
            if envelope.account == account_id and decide(envelope, self.livemode) is Verdict.QUEUE:
                try:
                    self.queue.send(envelope, json.dumps(event), origin="recovery")
                except Exception:
                    # Why the queue refused is the operator's to see; the watermark stays.
                    logger.exception("event not queued", extra={"event_id": envelope.event_id})
                    return done, sent, event
                sent.append(envelope.event_id)
            done.append(event)
        return done, sent, None


def fan_out(directory: AccountDirectory, work: WorkQueue, batch: int = 100) -> int:
    """One work message per recovered account; how many were queued."""
    total = 0
    for chunk in _chunks((a for a, status in directory.listings() if is_recovered(status)), batch):
        work.send_accounts(chunk)
        total += len(chunk)
    return total


def recover_all(
    directory: AccountDirectory,
    recover_one: Callable[[str], AccountRecovery],
    on_account: Callable[[AccountRecovery], None] | None = None,
) -> list[AccountRecovery]:
    """Every recovered account in this process, one after the other (operators)."""
    done = []
    for account_id, status in directory.listings():
        if is_recovered(status):
            result = recover_one(account_id)
            done.append(result)
            if on_account is not None:
                on_account(result)
    return done


def _chunks(items: Iterable[str], size: int) -> Iterable[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())
