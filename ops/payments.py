"""A payment as the platform API describes it, for an operator's terminal."""

from __future__ import annotations

import re
from typing import Any, Protocol

from chalicelib.api import check_view
from chalicelib.domain.payments import describe
from chalicelib.ports import PaymentHistory, PaymentStore, SweepStore


class Store(PaymentStore, PaymentHistory, SweepStore, Protocol):
    """The payments table as `payment show` reads it."""


PAYMENT_ID = re.compile(r"pay_[A-Za-z0-9]{1,64}")


def payment_report(store: Store, payment_id: str) -> dict[str, Any] | None:
    """What `payment show` prints; None when there is no such payment.

    One section per aspect: the payment, its next check by the sweep (while open) and its
    history, each change with what caused it.
    """
    payment = store.get(payment_id)
    if payment is None:
        return None
    check = store.check_of(payment_id)
    return {
        "payment": describe(payment),
        "check": None if check is None else check_view(check),
        "history": [entry.as_dict() for entry in store.history(payment_id)],
    }


def readable(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for section, facts in report.items():
        if section == "history":
            lines.append("history:")
            lines += [f"  {_change(entry)}" for entry in facts]
            continue
        if facts is None:
            continue
        lines.append(f"{section}:")
        width = max(len(name) for name in facts)
        for name, value in facts.items():
            lines.append(f"  {name.ljust(width)}  {_plain(value)}")
    return lines


def _change(entry: dict[str, Any]) -> str:
    """v2  2026-12-03T12:00:01Z  processing -> succeeded  sweep  payment_intent pi_1 succeeded"""
    cause = entry["cause"]
    why = " ".join(v for v in (cause["kind"], cause["event_type"], cause["event_id"]) if v)
    read = entry["stripe_object"]
    seen = f"  {read['object']} {read['id']} {read['status'] or '-'}" if read else ""
    moved = f"{entry['old_status'] or '-'} -> {entry['new_status']}"
    return f"v{entry['version']}  {entry['at']}  {moved}  {why}{seen}"


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return (
            ", ".join(
                " ".join(str(v) for v in item.values()) if isinstance(item, dict) else str(item)
                for item in value
            )
            or "-"
        )
    return str(value)
