"""Deliveries to each account's dedicated URL, counted per hour in the webhook-health table
(key `account_id` + `hour`, TTL `expires_at`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamodb import from_item, to_item
from chalicelib.domain.webhook_health import (
    HEALTH_RETENTION,
    REFUSED_WINDOW_HOURS,
    HourBucket,
    hour_of,
)

_VERIFIED = "ADD verified :one SET last_at = :at, last_verified = :ok, last_verified_at = :at, "
_REFUSED = "ADD refused :one SET last_at = :at, last_verified = :ok, "


class DynamoWebhookHealth:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, account_id: str, verified: bool, at: datetime) -> None:
        """One UpdateItem: a counter added to, and the last delivery set, in the hour's bucket."""
        expression = (_VERIFIED if verified else _REFUSED) + "expires_at = :expires"
        self._client.update_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id, "hour": hour_of(at)}),
            UpdateExpression=expression,
            ExpressionAttributeValues=to_item(
                {
                    ":one": 1,
                    ":at": at.isoformat(timespec="milliseconds"),
                    ":ok": verified,
                    ":expires": int((at + HEALTH_RETENTION).timestamp()),
                }
            ),
        )

    def recent(self, account_id: str) -> list[HourBucket]:
        """The newest buckets: the last delivery ever kept, and at least the last 24 hours."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues=to_item({":a": account_id}),
            ScanIndexForward=False,
            Limit=REFUSED_WINDOW_HOURS + 1,
        )
        return [_bucket(from_item(item)) for item in response.get("Items", [])]


def _bucket(values: dict[str, Any]) -> HourBucket:
    return HourBucket(
        hour=values["hour"],
        verified=values.get("verified", 0),
        refused=values.get("refused", 0),
        last_at=values.get("last_at"),
        last_verified=values.get("last_verified"),
        last_verified_at=values.get("last_verified_at"),
    )
