"""Entry points of missed-event recovery: the scheduled fan-out, the worker, the operator's run.

The schedule puts one message per connected account on the recovery work queue; the worker
(one account per invocation, bounded concurrency) lists that account's events at Stripe and
queues those not queued yet on the events queue, exactly as the webhook would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from chalicelib import wiring
from chalicelib.domain.errors import StripeRejected
from chalicelib.observability import count, logger
from chalicelib.services.recovery import AccountRecovery, fan_out, recover_all
from chalicelib.sqs_batches import BatchIncomplete, answer

_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,64}")


def schedule_recovery() -> int:
    """The scheduled run: one work message per recovered account."""
    queued = fan_out(wiring.account_directory(), wiring.recovery_work_queue())
    logger.info("event recovery scheduled", extra={"accounts": queued})
    count("RecoveryAccountsScheduled")
    return queued


def recover_batch(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The worker Lambda's answer: a failed account raised, or reported as its mapping reads."""
    if not wiring.settings().reports_batch_item_failures:
        return answer(lambda: recover_from_queue(event), False)

    def each_account() -> None:
        failed = []
        for record in event["Records"]:
            try:
                recover_from_queue({"Records": [record]})
            except Exception:
                logger.exception("account recovery failed; it will be retried")
                failed.append(record["messageId"])
        if failed:
            raise BatchIncomplete(failed)

    return answer(each_account, True)


def recover_from_queue(event: Mapping[str, Any]) -> list[str]:
    """The worker: recover each account of the batch; raise so that a failed one is retried."""
    outcomes = []
    for record in event["Records"]:
        account_id = _account_of(record.get("body"))
        if account_id is None:
            # Retrying cannot make it readable: say so, and let it go.
            logger.error("recovery message without a valid account id dropped")
            count("RecoveryMessageInvalid")
            continue
        outcomes.append(_recover_one(account_id, None).outcome)
    return outcomes


def recover(
    account_id: str | None = None,
    since: str | None = None,
    on_account: Callable[[AccountRecovery], None] | None = None,
) -> dict[str, Any]:
    """Run recovery now, in this process (`ops recover-events`): one account or every one.

    `since` (ISO 8601) lists again from then instead of the watermark. The report says, per
    account, what was queued.
    """
    start = parse_since(since)
    if account_id is not None:
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise ValueError(f"{account_id!r} is not a Stripe account id")
        results = [_recover_one(account_id, start, retry_incomplete=False)]
        if on_account is not None:
            on_account(results[0])
    else:
        results = recover_all(
            wiring.account_directory(),
            lambda account: _recover_one(account, start, retry_incomplete=False),
            on_account,
        )
    return {
        "accounts": [asdict(r) for r in results],
        "events_queued": sum(len(r.queued) for r in results),
    }


def _recover_one(
    account_id: str, since: int | None, retry_incomplete: bool = True
) -> AccountRecovery:
    """Recover one account; an incomplete run raises (the worker's message is retried) unless
    the caller reports it instead."""
    logger.append_keys(account=account_id)
    try:
        try:
            result = wiring.recovery().recover_account(account_id, since)
        except StripeRejected as rejected:
            if rejected.status != 403:
                raise
            # Access revoked at Stripe: the account's own event (or the sweep) marks it.
            logger.warning("Stripe refused to list the account's events (access revoked?)")
            count("RecoveryAccountRefused")
            return AccountRecovery(account_id, "refused")
        if result.expired:
            logger.warning(
                "the account's watermark was older than Stripe's 30 days of events; "
                "recovery restarted at the oldest event Stripe has",
                extra={"scanned_until": result.scanned_until},
            )
            count("RecoveryWatermarkExpired")
        logger.info(
            "events recovered",
            extra={"outcome": result.outcome, "events_queued": len(result.queued)},
        )
        count(f"Recovery_{result.outcome}")
        if result.outcome == "incomplete" and retry_incomplete:
            raise RuntimeError(f"some events of {account_id} could not be queued; will retry")
        return result
    finally:
        logger.remove_keys(["account"])


def _account_of(body: Any) -> str | None:
    try:
        account_id = json.loads(body).get("account_id")
    except (TypeError, ValueError, AttributeError):
        return None
    return account_id if isinstance(account_id, str) and _ACCOUNT_ID.fullmatch(account_id) else None


def parse_since(since: str | None) -> int | None:
    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise ValueError(f"since must be an ISO 8601 time, not {since!r}") from None
    if moment.tzinfo is None:
        raise ValueError("since needs a time zone (e.g. 2026-12-01T00:00:00Z)")
    return int(moment.timestamp())
