"""The watermark rules of missed-event recovery, over generated event histories and failures."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.recovery import (
    EVENT_RETENTION_SECONDS,
    Watermark,
    Window,
    advance,
    halved,
    is_recovered,
    to_queue,
    window_for,
)

OVERLAP = 300
START = 1_800_000_000


@st.composite
def histories(draw):
    """Events (created, seconds until Stripe lists them), runs, and the sends that fail."""
    count = draw(st.integers(0, 40))
    # Small offsets: many events share a second, as a burst of changes does.
    created = draw(st.lists(st.integers(0, 3000), min_size=count, max_size=count))
    lags = draw(st.lists(st.integers(0, OVERLAP), min_size=count, max_size=count))
    events = [
        {"id": f"evt_{i:03d}", "created": START + c, "visible_at": START + c + lag}
        for i, (c, lag) in enumerate(zip(created, lags, strict=True))
    ]
    runs = sorted(draw(st.lists(st.integers(0, 4000), max_size=12)))
    failures = draw(st.sets(st.tuples(st.integers(0, 12), st.integers(0, 40)), max_size=10))
    return events, [START + r for r in runs], failures


def run(mark, now, events, fail_at=None):
    """One recovery run at `now` over Stripe's list as it is then; what it queued."""
    window = window_for(mark, now, START, OVERLAP)
    listed = [
        e for e in events if e["visible_at"] <= now and window.since <= e["created"] < window.until
    ]
    queued, failed = [], None
    for position, event in enumerate(to_queue(listed, mark)):
        if position == fail_at:
            failed = event
            break
        queued.append(event)
    return advance(mark, window, queued, failed, OVERLAP), [e["id"] for e in queued]


@settings(max_examples=300, deadline=None)
@given(histories())
def test_every_event_is_queued_exactly_once_despite_late_listings_and_failed_sends(history):
    events, runs, failures = history
    mark, sent = None, Counter()
    for index, now in enumerate(runs):
        fail_at = min((p for r, p in failures if r == index), default=None)
        mark, queued = run(mark, now, events, fail_at)
        sent.update(queued)
    # Once everything is listed, one run without failures catches up.
    end = START + 4000 + OVERLAP + 1
    mark, queued = run(mark, end, events)
    sent.update(queued)
    assert sent == Counter(e["id"] for e in events)


@given(histories())
def test_the_watermark_never_moves_back_nor_past_an_event_that_failed(history):
    events, runs, _ = history
    mark = None
    for now in runs:
        window = window_for(mark, now, START, OVERLAP)
        listed = to_queue([e for e in events if window.since <= e["created"] < window.until], mark)
        failed = listed[len(listed) // 2] if listed else None
        queued = listed[: len(listed) // 2]
        new = advance(mark, window, queued, failed, OVERLAP)
        if mark is not None:
            assert new.scanned_until >= mark.scanned_until
        if failed is not None:
            # The next window starts at or before the failed event: it is listed again.
            assert window_for(new, now, START, OVERLAP).since <= failed["created"]
            assert failed["id"] not in new.recent
        mark = new


def test_events_are_queued_oldest_first_and_those_already_queued_are_skipped():
    mark = Watermark(START, {"evt_a": START - 10})
    events = [
        {"id": "evt_c", "created": START + 5},
        {"id": "evt_a", "created": START - 10},
        {"id": "evt_b", "created": START + 5},
    ]
    assert [e["id"] for e in to_queue(events, mark)] == ["evt_b", "evt_c"]


def test_what_is_remembered_stays_within_the_overlap():
    mark = Watermark(START, {"evt_old": START - OVERLAP - 1, "evt_new": START - OVERLAP})
    new = advance(mark, Window(START - OVERLAP, START), [], None, OVERLAP)
    assert dict(new.recent) == {"evt_new": START - OVERLAP}


def test_a_watermark_older_than_stripe_keeps_events_is_clamped_and_reported():
    now = START + 40 * 24 * 3600
    window = window_for(Watermark(START), now, START, OVERLAP)
    assert window.expired
    assert window.since > now - EVENT_RETENTION_SECONDS
    assert window.until == now + 1


def test_a_new_account_starts_where_it_connected_and_is_not_a_loss():
    assert window_for(None, START + 100, START, OVERLAP) == Window(START, START + 101)
    old_connection = window_for(None, START + 40 * 24 * 3600, START, OVERLAP)
    assert not old_connection.expired


def test_a_window_too_long_for_one_run_is_halved_down_to_one_second():
    window = Window(START, START + 8)
    lengths = []
    while window is not None:
        lengths.append(window.until - window.since)
        window = halved(window, START)
    assert lengths == [8, 4, 2, 1]


def test_a_halved_window_still_reaches_past_the_watermark():
    window = Window(START - OVERLAP, START + 100)
    while (shorter := halved(window, START)) is not None:
        window = shorter
    assert window == Window(START - OVERLAP, START + 1)


def test_only_connected_accounts_are_recovered():
    assert is_recovered("connected")
    assert not is_recovered("disconnected")
    assert not is_recovered("pending")
