"""A payment's history: what caused each change, what Stripe said, the state before and after.

Each entry is written in the same transaction as the change it describes, so the history of a
payment is complete: no change without its entry, no entry without its change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.payments import Observation, Payment


class CauseKind(StrEnum):
    CREATED = "created"  # the platform started the payment
    REBUILT = "rebuilt"  # a Stripe object of ours named a payment never stored
    WEBHOOK = "webhook"  # an event Stripe delivered
    RECOVERY = "recovery"  # an event found again in Stripe's event list
    SYNC = "sync"  # the platform asked for a re-read (the customer came back)
    SWEEP = "sweep"  # the scheduled check of open payments


@dataclass(frozen=True)
class Cause:
    kind: CauseKind
    event_id: str | None = None
    event_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "event_id": self.event_id, "event_type": self.event_type}


SYNC = Cause(CauseKind.SYNC)
SWEEP = Cause(CauseKind.SWEEP)


@dataclass(frozen=True)
class StripeObjectRead:
    """The Stripe object a change was decided on, as read (type, id, its own status)."""

    object: str
    id: str
    status: str | None


@dataclass(frozen=True)
class Reading:
    """An observation together with the object it was made of."""

    observation: Observation
    read: StripeObjectRead


def reading(stripe_object: dict[str, Any], observation: Observation) -> Reading:
    return Reading(
        observation,
        StripeObjectRead(
            str(stripe_object.get("object") or "unknown"),
            str(stripe_object.get("id") or ""),
            stripe_object.get("status"),
        ),
    )


@dataclass(frozen=True)
class HistoryEntry:
    payment_id: str
    version: int  # the payment's version this change produced (0: its creation)
    at: str
    cause: Cause
    old_status: str | None
    new_status: str
    stripe: StripeObjectRead | None = None
    amount_received: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "at": self.at,
            "cause": self.cause.as_dict(),
            "stripe_object": None
            if self.stripe is None
            else {"object": self.stripe.object, "id": self.stripe.id, "status": self.stripe.status},
            "old_status": self.old_status,
            "new_status": self.new_status,
            "amount_received": self.amount_received,
        }

    @classmethod
    def from_dict(cls, payment_id: str, values: dict[str, Any]) -> HistoryEntry:
        cause = values["cause"]
        read = values.get("stripe_object")
        return cls(
            payment_id=payment_id,
            version=int(values["version"]),
            at=values["at"],
            cause=Cause(CauseKind(cause["kind"]), cause.get("event_id"), cause.get("event_type")),
            old_status=values.get("old_status"),
            new_status=values["new_status"],
            stripe=None
            if not read
            else StripeObjectRead(read["object"], read["id"], read.get("status")),
            amount_received=int(values.get("amount_received") or 0),
        )


def change_entry(
    before: Payment | None,
    after: Payment,
    cause: Cause,
    read: StripeObjectRead | None,
    at: str,
) -> HistoryEntry:
    """The entry of one change (before None: the payment's creation)."""
    return HistoryEntry(
        payment_id=after.payment_id,
        version=after.version,
        at=after.updated_at or at,
        cause=cause,
        old_status=None if before is None else str(before.status),
        new_status=str(after.status),
        stripe=read,
        amount_received=after.amount_received,
    )
