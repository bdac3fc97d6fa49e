"""The platform's side of the notifications: a queue subscribed to the bus, read as the platform
reads it, each notification shown as it arrived (the EventBridge event) or as one readable line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

# The queue the local stack subscribes to the bus for the platform (template parameter
# PlatformQueueArn); a deployed stage's queue is the platform's own.
LOCAL_INBOX_SUFFIX = "-platform-inbox"
LONG_POLL_SECONDS = 20
# A follower's polls: short enough that Ctrl-C ends it within them.
FOLLOW_POLL_SECONDS = 2
# A queue out of reach for a moment (after the SDK's own retries): wait, then poll again.
_UNREACHABLE = (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError)
_PAUSE_SECONDS = 1.0


def local_inbox_name(service_name: str) -> str:
    return f"{service_name}{LOCAL_INBOX_SUFFIX}"


def received(
    sqs: Any,
    queue_url: str,
    consume: bool,
    wait_seconds: int = LONG_POLL_SECONDS,
    stopping: Callable[[], bool] = lambda: False,
) -> Iterator[dict[str, Any]]:
    """Each event arriving in the queue (long polls) until `stopping()`; deleted once shown if
    `consume`.

    A message that is not an EventBridge event is yielded as {"unreadable": body}.
    """
    while not stopping():
        try:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            ).get("Messages", [])
        except _UNREACHABLE:
            time.sleep(_PAUSE_SECONDS)
            continue
        for message in messages:
            try:
                event = json.loads(message["Body"])
            except ValueError:
                event = None
            yield event if isinstance(event, dict) else {"unreadable": message["Body"]}
            if consume:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


# What says most about each kind of notification, after its type and id.
_SUMMARY: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "payment.updated": lambda d: [
        d.get("payment_id"),
        d.get("status"),
        f"{d.get('amount_received')}/{d.get('amount')} {d.get('currency')}",
        f"company {d.get('company_id')}",
    ],
    "payment_method.updated": lambda d: [
        d.get("payment_method_id"),
        d.get("status"),
        f"account {d.get('account_id')}",
        f"company {d.get('company_id')}",
    ],
}


def _account_summary(detail: dict[str, Any]) -> list[Any]:
    return [detail.get("account_id"), detail.get("status"), f"company {detail.get('company_id')}"]


def readable(event: dict[str, Any]) -> str:
    """One line: when, detail-type, notification id, and the fields that say most."""
    if "unreadable" in event:
        return f"(not an EventBridge event) {str(event['unreadable'])[:200]}"
    given = event.get("detail")
    detail: dict[str, Any] = given if isinstance(given, dict) else {}
    kind = str(event.get("detail-type") or detail.get("type") or "?")
    summary = _SUMMARY.get(kind, _account_summary if kind.startswith("account.") else None)
    parts = summary(detail) if summary else []
    fields = "  ".join(str(part) for part in parts if part is not None)
    return f"{event.get('time', '-')}  {kind:<24} {detail.get('notification_id', '-')}  {fields}"


def as_json_line(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"))
