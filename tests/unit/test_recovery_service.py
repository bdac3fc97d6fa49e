"""Missed-event recovery as a use case, against in-memory ports: what is queued, what is not."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.recovery import Watermark
from chalicelib.services.recovery import Recovery, fan_out, recover_all
from tests.unit.fakes import MemoryAccounts

NOW = 1_800_000_000
CONNECTED_AT = "2027-01-15T07:00:00+00:00"  # NOW - 1 hour
ACCOUNT = "acct_1Recovery"


def event(n: int, created: int, event_type="payment_intent.succeeded", **fields) -> dict:
    return {
        "id": f"evt_{n:04d}",
        "object": "event",
        "type": event_type,
        "created": created,
        "account": ACCOUNT,
        "livemode": False,
        "data": {"object": {"id": f"pi_{n}"}},
        **fields,
    }


class StripeEvents:
    """EventLog over a fixed list, whatever account it is asked for (Stripe's own scoping is
    the adapter tests'); `page_size` events per page, calls counted."""

    def __init__(self, events=(), page_size=100):
        self.events, self.page_size, self.calls = list(events), page_size, []

    def list_events(self, account_id, types, since, until, max_pages):
        found = [e for e in self.events if e["type"] in types and since <= e["created"] < until]
        pages = max(1, -(-len(found) // self.page_size))
        self.calls.append((account_id, since, until, min(pages, max_pages)))
        return found if pages <= max_pages else None


class Marks:
    def __init__(self):
        self.items: dict[str, Watermark] = {}

    def get(self, account_id):
        return self.items.get(account_id)

    def save(self, account_id, mark, at):
        stored = self.items.get(account_id)
        if (stored.version if stored else 0) != mark.version:
            return False
        self.items[account_id] = replace(mark, version=mark.version + 1)
        return True


class Queue:
    def __init__(self, fail_on=()):
        self.sent: list[tuple[str, dict]] = []
        self.fail_on = set(fail_on)

    def send(self, envelope, body, origin=None):
        if envelope.event_id in self.fail_on:
            raise RuntimeError("SQS refused")
        self.sent.append((envelope.event_id, json.loads(body)))

    @property
    def ids(self):
        return [event_id for event_id, _ in self.sent]


def recovery(stripe, queue, marks=None, status=AccountStatus.CONNECTED, now=NOW, max_pages=10):
    account = ConnectedAccount(ACCOUNT, "co_1", False, CONNECTED_AT, status=status)
    return Recovery(
        MemoryAccounts(account),
        stripe,
        marks or Marks(),
        queue,
        livemode=False,
        now=lambda: now,
        timestamp=lambda: "2027-01-15T09:00:00+00:00",
        overlap_seconds=300,
        max_pages=max_pages,
    )


def test_events_are_queued_as_the_webhook_queues_them_oldest_first():
    stripe = StripeEvents([event(2, NOW - 10), event(1, NOW - 20)])
    queue = Queue()
    result = recovery(stripe, queue).recover_account(ACCOUNT)
    assert result.outcome == "recovered" and result.queued == ("evt_0001", "evt_0002")
    assert queue.sent[0][1] == event(1, NOW - 20)  # the whole event, as Stripe sent it


def test_a_failed_send_leaves_the_watermark_before_it_and_the_next_run_catches_up():
    stripe = StripeEvents([event(n, NOW - 100 + n) for n in range(1, 6)])
    marks = Marks()
    failing = Queue(fail_on={"evt_0003"})
    first = recovery(stripe, failing, marks).recover_account(ACCOUNT)
    assert first.outcome == "incomplete" and failing.ids == ["evt_0001", "evt_0002"]

    queue = Queue()
    second = recovery(stripe, queue, marks, now=NOW + 60).recover_account(ACCOUNT)
    assert second.outcome == "recovered"
    assert queue.ids == ["evt_0003", "evt_0004", "evt_0005"]  # none of the first run twice


def test_a_second_run_queues_nothing_new():
    stripe = StripeEvents([event(1, NOW - 5)])
    marks, queue = Marks(), Queue()
    recovery(stripe, queue, marks).recover_account(ACCOUNT)
    again = recovery(stripe, queue, marks, now=NOW + 30).recover_account(ACCOUNT)
    assert again.queued == () and queue.ids == ["evt_0001"]


def test_disconnected_and_unknown_accounts_are_not_listed_at_stripe():
    stripe = StripeEvents([event(1, NOW - 5)])
    queue = Queue()
    gone = recovery(stripe, queue, status=AccountStatus.DISCONNECTED)
    assert gone.recover_account(ACCOUNT).outcome == "not_recovered"
    assert gone.recover_account("acct_1Nobody").outcome == "unknown_account"
    assert stripe.calls == [] and queue.sent == []


def test_events_of_another_mode_or_account_or_without_an_id_are_stepped_over():
    stripe = StripeEvents(
        [
            event(1, NOW - 9, livemode=True),
            event(2, NOW - 8, id="not-an-event"),
            event(3, NOW - 7),
            event(4, NOW - 6, account="acct_1Other"),
        ]
    )
    queue = Queue()
    result = recovery(stripe, queue).recover_account(ACCOUNT)
    assert queue.ids == ["evt_0003"] and result.outcome == "recovered"


def test_an_event_without_account_is_queued_as_the_listed_accounts():
    stripe = StripeEvents([event(1, NOW - 9, account=None)])
    queue = Queue()
    recovery(stripe, queue).recover_account(ACCOUNT)
    assert queue.ids == ["evt_0001"]


def test_a_watermark_older_than_thirty_days_is_clamped_and_reported():
    marks = Marks()
    marks.items[ACCOUNT] = Watermark(NOW - 40 * 24 * 3600, {}, 3)
    stripe = StripeEvents([event(1, NOW - 5)])
    result = recovery(stripe, Queue(), marks).recover_account(ACCOUNT)
    assert result.expired and result.queued == ("evt_0001",)
    assert stripe.calls[0][1] > NOW - 30 * 24 * 3600
    assert marks.items[ACCOUNT].scanned_until == NOW + 1


def test_a_backlog_too_long_for_one_run_is_taken_oldest_part_first():
    events = [event(n, NOW - 3000 + 20 * n) for n in range(1, 150)]
    stripe = StripeEvents(events, page_size=10)
    marks, queue = Marks(), Queue()
    now = NOW
    for _ in range(40):
        result = recovery(stripe, queue, marks, now=now, max_pages=3).recover_account(ACCOUNT)
        now += 1
    assert queue.ids == [e["id"] for e in events]  # all of them, once, in order
    assert result.outcome == "recovered"


def test_an_operator_may_list_again_from_an_earlier_time_without_moving_the_watermark_back():
    stripe = StripeEvents([event(1, NOW - 1000)])
    marks, queue = Marks(), Queue()
    marks.items[ACCOUNT] = Watermark(NOW - 10, {}, 1)
    recovery(stripe, queue, marks).recover_account(ACCOUNT)
    assert queue.ids == []  # the watermark says it was done
    recovery(stripe, queue, marks).recover_account(ACCOUNT, since=NOW - 2000)
    assert queue.ids == ["evt_0001"]
    assert marks.items[ACCOUNT].scanned_until == NOW + 1


class Directory:
    def __init__(self, listings):
        self._listings = listings

    def listings(self):
        yield from self._listings


class Work:
    def __init__(self):
        self.batches: list[list[str]] = []

    def send_accounts(self, account_ids):
        self.batches.append(list(account_ids))


def test_the_fan_out_queues_one_message_per_connected_account_only():
    listings = [(f"acct_1N{i}", "connected") for i in range(250)]
    listings += [("acct_1Gone", "disconnected"), ("acct_1Wait", "pending")]
    work = Work()
    assert fan_out(Directory(listings), work) == 250
    assert [len(b) for b in work.batches] == [100, 100, 50]
    assert "acct_1Gone" not in sum(work.batches, []) and "acct_1Wait" not in sum(work.batches, [])


def test_an_operator_run_over_every_account_reports_each():
    stripe = StripeEvents([event(1, NOW - 5)])
    seen = []
    results = recover_all(
        Directory([(ACCOUNT, "connected"), ("acct_1Gone", "disconnected")]),
        recovery(stripe, Queue()).recover_account,
        on_account=seen.append,
    )
    assert [r.account_id for r in results] == [ACCOUNT] == [r.account_id for r in seen]


@pytest.mark.parametrize("failing_event", ["evt_0001", "evt_0002"])
def test_nothing_is_lost_whichever_send_fails(failing_event):
    stripe = StripeEvents([event(1, NOW - 5), event(2, NOW - 5)])  # the same second
    marks = Marks()
    first = Queue(fail_on={failing_event})
    recovery(stripe, first, marks).recover_account(ACCOUNT)
    second = Queue()
    recovery(stripe, second, marks, now=NOW + 1).recover_account(ACCOUNT)
    assert sorted(first.ids + second.ids) == ["evt_0001", "evt_0002"]


def imported_recovery(stripe, queue, imported_at, status=AccountStatus.CONNECTED):
    run = recovery(stripe, queue)
    account = ConnectedAccount(
        ACCOUNT, "co_1", False, CONNECTED_AT, status=status, imported_at=imported_at
    )
    return replace(run, accounts=MemoryAccounts(account))


def test_an_imported_account_is_caught_up_from_its_import_not_its_connection():
    imported_at = "2027-01-14T08:00:00+00:00"  # NOW - 1 day: the admin authorised an hour ago
    waiting = event(1, NOW - 12 * 3600)  # while it was pending authorisation
    before = event(2, NOW - 2 * 24 * 3600)  # before the migration: not the service's
    stripe, queue = StripeEvents([waiting, before]), Queue()
    assert imported_recovery(stripe, queue, imported_at).recover_account(ACCOUNT).queued == (
        "evt_0001",
    )
    assert stripe.calls[0][1] == NOW - 24 * 3600


def test_an_import_older_than_thirty_days_starts_at_stripes_oldest_event():
    stripe, queue = StripeEvents([event(1, NOW - 29 * 24 * 3600)]), Queue()
    result = imported_recovery(stripe, queue, "2026-11-01T00:00:00+00:00").recover_account(ACCOUNT)
    assert result.queued == ("evt_0001",) and not result.expired  # no watermark was lost
    assert stripe.calls[0][1] == NOW - 30 * 24 * 3600 + 60


def test_an_account_pending_authorisation_is_not_listed_at_stripe():
    stripe, queue = StripeEvents([event(1, NOW - 5)]), Queue()
    run = imported_recovery(stripe, queue, CONNECTED_AT, AccountStatus.PENDING_AUTHORIZATION)
    assert run.recover_account(ACCOUNT).outcome == "not_recovered"
    assert stripe.calls == [] and queue.sent == []
