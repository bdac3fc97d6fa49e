"""Why an event failed, as an operator reads it later beside the dead-letter queue.

SQS keeps no reason with a message it moves to the dead-letter queue, so the consumer records
one per event; what it records may end up on an operator's terminal, hence never a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Long enough for Stripe's and AWS's messages, short enough for one line of a listing.
MAX_REASON_LENGTH = 200

# Stripe keys and signing secrets, PaymentIntent client secrets, bearer tokens, and any long
# unbroken run of letters and digits that could be a credential of another kind.
_SECRETS = re.compile(
    r"\b(?:sk|rk|pk)_(?:test|live)_\w+"
    r"|\bwhsec_\w+"
    r"|_secret_\w+"
    r"|(?i:bearer|basic)\s+\S+"
    r"|\b[A-Za-z0-9+/=_-]{40,}"
)


@dataclass(frozen=True)
class EventFailure:
    """An event's failed handlings: the first reason, when, and how many times."""

    account: str | None
    event_id: str
    event_type: str | None
    first_reason: str
    last_reason: str
    first_failed_at: str
    last_failed_at: str
    failures: int


def failure_reason(error: BaseException) -> str:
    """The exception's type and its message on one line, secrets masked, shortened."""
    message = _SECRETS.sub("[redacted]", " ".join(str(error).split()))
    reason = f"{type(error).__name__}: {message}" if message else type(error).__name__
    if len(reason) > MAX_REASON_LENGTH:
        reason = reason[: MAX_REASON_LENGTH - 1] + "…"
    return reason
