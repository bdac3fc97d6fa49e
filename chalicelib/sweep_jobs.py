"""Entry points of the reconciliation sweep: the scheduled run and the operator's run."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from chalicelib import wiring
from chalicelib.observability import count, logger
from chalicelib.services.sweep import Checked

_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,64}")
# Kept back from the Lambda's remaining time: one payment's check (Stripe reads with their
# timeouts and retries) must finish before the Lambda is stopped.
_MARGIN_SECONDS = 20.0


def scheduled_sweep(context: Any) -> dict[str, Any]:
    """The scheduled run: as much as the Lambda's time allows; the next run resumes."""

    def time_left() -> float:
        if context is None:
            return 60.0
        return float(context.get_remaining_time_in_millis()) / 1000 - _MARGIN_SECONDS

    report = wiring.sweep().run(time_left).as_dict()
    logger.info("sweep done", extra=report)
    count("SweepRuns")
    if not report["complete"]:
        count("SweepIncomplete")
    return report


def sweep_now(
    account_id: str | None = None,
    every_open: bool = False,
    on_payment: Callable[[str, Checked], None] | None = None,
    seconds: float = 3600.0,
) -> dict[str, Any]:
    """Run the sweep now, in this process (`ops sweep`): due payments, or every open one."""
    if account_id is not None and not _ACCOUNT_ID.fullmatch(account_id):
        raise ValueError(f"{account_id!r} is not a Stripe account id")
    deadline = time.monotonic() + seconds
    report = wiring.sweep().run(
        lambda: deadline - time.monotonic(), account_id, every_open, on_payment
    )
    return report.as_dict()
