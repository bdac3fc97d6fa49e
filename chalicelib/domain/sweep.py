"""When the sweep checks an open payment again, and what it says when it cannot.

An open payment is checked on a backoff after its last change: 5 min, 15 min, 1 h, 6 h, then
daily for as long as it stays open (a PaymentIntent Stripe still holds open may yet be paid).
A terminal payment is never checked again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.payments import TERMINAL, Payment

DEFAULT_BACKOFF_SECONDS: tuple[int, ...] = (300, 900, 3600, 6 * 3600, 24 * 3600)


class CheckStatus(StrEnum):
    SCHEDULED = "scheduled"
    # The account is disconnected: Stripe is not asked; the check resumes if it reconnects.
    ACCOUNT_DISCONNECTED = "account_disconnected"
    # Stripe refused to read as the account (access revoked): the account is marked so.
    ACCOUNT_ACCESS_REVOKED = "account_access_revoked"


@dataclass(frozen=True)
class CheckSchedule:
    """The next check of an open payment, and how many checks found nothing new since its
    last change."""

    next_check_at: str
    checks: int = 0
    status: CheckStatus = CheckStatus.SCHEDULED


def parse_backoff(raw: str | None) -> tuple[int, ...]:
    """'300,900,3600,21600,86400' (seconds); the last step repeats."""
    if not raw:
        return DEFAULT_BACKOFF_SECONDS
    try:
        steps = tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(f"a backoff is whole seconds separated by commas, not {raw!r}") from None
    if not steps or any(step < 0 for step in steps):
        raise ValueError(f"a backoff is one or more non-negative steps, not {raw!r}")
    return steps


def delay(checks: int, backoff: tuple[int, ...] = DEFAULT_BACKOFF_SECONDS) -> int:
    """Seconds until the next check after `checks` checks that found nothing new."""
    return backoff[min(checks, len(backoff) - 1)]


def after(moment: str, seconds: int) -> str:
    return (datetime.fromisoformat(moment) + timedelta(seconds=seconds)).isoformat(
        timespec="milliseconds"
    )


def schedule_after_change(
    payment: Payment, backoff: tuple[int, ...] = DEFAULT_BACKOFF_SECONDS
) -> CheckSchedule | None:
    """A change restarts the backoff; a terminal payment leaves the sweep."""
    if payment.status in TERMINAL:
        return None
    moment = payment.updated_at or payment.created_at
    return CheckSchedule(after(moment, delay(0, backoff)), 0)


def schedule_after_check(
    checks: int,
    now: str,
    backoff: tuple[int, ...] = DEFAULT_BACKOFF_SECONDS,
    status: CheckStatus = CheckStatus.SCHEDULED,
) -> CheckSchedule:
    """A check that changed nothing: the next one a step further out."""
    done = checks + 1
    return CheckSchedule(after(now, delay(done, backoff)), done, status)


def is_open(payment: Payment) -> bool:
    return payment.status not in TERMINAL
