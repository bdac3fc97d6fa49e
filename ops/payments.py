"""A payment as the platform API describes it, for an operator's terminal."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.domain.payments import describe
from chalicelib.ports import PaymentStore

PAYMENT_ID = re.compile(r"pay_[A-Za-z0-9]{1,64}")


def payment_report(store: PaymentStore, payment_id: str) -> dict[str, Any] | None:
    """What `payment show` prints; None when there is no such payment.

    One section per aspect: the payment's history will sit beside it as "history".
    """
    payment = store.get(payment_id)
    if payment is None:
        return None
    return {"payment": describe(payment)}


def readable(report: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for section, facts in report.items():
        lines.append(f"{section}:")
        width = max(len(name) for name in facts)
        for name, value in facts.items():
            lines.append(f"  {name.ljust(width)}  {_plain(value)}")
    return lines


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
