"""DynamoDB record of why events failed (the `<ServiceName>-event-failures` table)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamodb import from_item
from chalicelib.domain.failures import EventFailure

# The dead-letter queue keeps a message 14 days (infra/template.yaml): so does its reason,
# counted from the last failure.
RETENTION_SECONDS = 14 * 24 * 3600
_NO_ACCOUNT = "-"
_BATCH_GET_LIMIT = 100


def failure_key(account: str | None, event_id: str) -> str:
    # Event ids are unique per Stripe account only: an account's dedicated endpoint and the
    # platform's could both deliver an evt_… of their own.
    return f"{account or _NO_ACCOUNT}/{event_id}"


class DynamoEventFailures:
    def __init__(
        self, client: Any, table_name: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def record(
        self, account: str | None, event_id: str, event_type: str | None, reason: str
    ) -> None:
        now = self._clock()
        at = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
        # One update, no read: two consumers failing the same event at once both count.
        self._client.update_item(
            TableName=self._table,
            Key={"id": {"S": failure_key(account, event_id)}},
            UpdateExpression=(
                "SET event_id = :event_id, account = :account, event_type = :event_type, "
                "first_reason = if_not_exists(first_reason, :reason), last_reason = :reason, "
                "first_failed_at = if_not_exists(first_failed_at, :at), last_failed_at = :at, "
                "expires_at = :expires_at ADD failures :one"
            ),
            ExpressionAttributeValues={
                ":event_id": {"S": event_id},
                ":account": {"S": account or _NO_ACCOUNT},
                ":event_type": {"S": event_type or ""},
                ":reason": {"S": reason},
                ":at": {"S": at},
                ":expires_at": {"N": str(int(now) + RETENTION_SECONDS)},
                ":one": {"N": "1"},
            },
        )

    def get_many(
        self, keys: list[tuple[str | None, str]]
    ) -> dict[tuple[str | None, str], EventFailure]:
        wanted = {failure_key(account, event_id): (account, event_id) for account, event_id in keys}
        found: dict[tuple[str | None, str], EventFailure] = {}
        # DynamoDB deletes expired items only within days: an expired one is not a reason.
        now = self._clock()
        ids = list(wanted)
        for start in range(0, len(ids), _BATCH_GET_LIMIT):
            page = ids[start : start + _BATCH_GET_LIMIT]
            request: dict[str, Any] = {self._table: {"Keys": [{"id": {"S": k}} for k in page]}}
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    values = from_item(item)
                    if int(values.get("expires_at", now)) < now:
                        continue
                    found[wanted[values["id"]]] = _failure(values)
                request = answer.get("UnprocessedKeys") or {}
        return found


def _failure(values: dict[str, Any]) -> EventFailure:
    account = values.get("account")
    return EventFailure(
        account=None if account == _NO_ACCOUNT else account,
        event_id=values["event_id"],
        event_type=values.get("event_type") or None,
        first_reason=values["first_reason"],
        last_reason=values["last_reason"],
        first_failed_at=values["first_failed_at"],
        last_failed_at=values["last_failed_at"],
        failures=int(values["failures"]),
    )
