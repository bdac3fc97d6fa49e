"""Missed-event recovery: which of Stripe's listed events to queue, and how the watermark moves.

A watermark says "every event created before `scanned_until - overlap` has been queued". Each
run lists again from `scanned_until - overlap`, so an event that shows up in Stripe's list a
little after its `created` second is still found; the ids already queued in that overlap are
remembered (`recent`) so that they are not queued again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.accounts import AccountStatus

# Stripe lists events of the last 30 days only.
EVENT_RETENTION_SECONDS = 30 * 24 * 3600
# Room between the start of a listing and the 30 days, for the time the listing takes.
RETENTION_MARGIN_SECONDS = 60

# The one rule of which accounts are recovered. An account pending authorisation (or in any
# other state added later) is not: Stripe would refuse to act for it.
RECOVERED_STATUSES = frozenset({str(AccountStatus.CONNECTED)})


def is_recovered(status: str) -> bool:
    return status in RECOVERED_STATUSES


@dataclass(frozen=True)
class Watermark:
    scanned_until: int  # unix seconds
    recent: Mapping[str, int] = field(default_factory=dict)  # event id -> created, in overlap
    version: int = 0


@dataclass(frozen=True)
class Window:
    """The created range [since, until) to list; `expired` if the watermark was too old."""

    since: int
    until: int
    expired: bool = False


def window_for(mark: Watermark | None, now: int, start: int, overlap: int) -> Window:
    """What to list now; `start` is where an account without a watermark begins."""
    since = start if mark is None else mark.scanned_until - overlap
    oldest = now - EVENT_RETENTION_SECONDS + RETENTION_MARGIN_SECONDS
    until = now + 1  # the current second too: what happened just now is queued now
    if since < oldest:
        # Stripe no longer has what is older; only a watermark we had counts as a loss.
        return Window(oldest, until, expired=mark is not None)
    return Window(since, max(since + 1, until))


def halved(window: Window, floor: int) -> Window | None:
    """A shorter window from the same start, for a listing too long for one run.

    It still ends past `floor` (the watermark), or a run would list only what the overlap
    already holds and never move on; None once nothing is left to cut.
    """
    floor = max(floor, window.since)
    if window.until - floor <= 1:
        return None
    return Window(window.since, floor + (window.until - floor) // 2, window.expired)


def to_queue(events: Iterable[Mapping[str, Any]], mark: Watermark | None) -> list[dict[str, Any]]:
    """The listed events not queued yet, oldest first (the order the watermark moves in)."""
    seen = mark.recent if mark is not None else {}
    fresh = {e["id"]: dict(e) for e in events if e["id"] not in seen}
    return sorted(fresh.values(), key=lambda e: (e["created"], e["id"]))


def advance(
    mark: Watermark | None,
    window: Window,
    queued: Sequence[Mapping[str, Any]],
    first_failed: Mapping[str, Any] | None,
    overlap: int,
) -> Watermark:
    """The watermark after queueing `queued` (oldest first) of the window's events.

    When an event could not be queued, the watermark stops at its second: it and everything
    after it are listed again next time. It never moves back.
    """
    until = window.until if first_failed is None else int(first_failed["created"])
    previous = mark.scanned_until if mark is not None else until
    scanned_until = max(previous, until)
    remembered = dict(mark.recent) if mark is not None else {}
    remembered.update({e["id"]: int(e["created"]) for e in queued})
    floor = scanned_until - overlap
    recent = {event_id: c for event_id, c in remembered.items() if c >= floor}
    return Watermark(scanned_until, recent, mark.version if mark is not None else 0)
