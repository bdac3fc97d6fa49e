"""DynamoDB and SQS for missed-event recovery: watermarks, the account list, the work queue."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import from_item, to_item
from chalicelib.domain.recovery import Watermark

_BATCH = 10  # SendMessageBatch takes at most 10 entries


class DynamoWatermarkStore:
    """One item per connected account in the recovery table (not in the accounts table)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, account_id: str) -> Watermark | None:
        item = self._client.get_item(
            TableName=self._table, Key=to_item({"account_id": account_id}), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        return Watermark(
            int(values["scanned_until"]),
            {k: int(v) for k, v in json.loads(values.get("recent") or "{}").items()},
            int(values["version"]),
        )

    def save(self, account_id: str, mark: Watermark, at: str) -> bool:
        values = {
            "account_id": account_id,
            "scanned_until": mark.scanned_until,
            "recent": json.dumps(dict(mark.recent), sort_keys=True),
            "version": mark.version + 1,
            "updated_at": at,
        }
        condition = "attribute_not_exists(account_id)" if mark.version == 0 else "version = :v"
        extra = {"ExpressionAttributeValues": to_item({":v": mark.version})} if mark.version else {}
        try:
            self._client.put_item(
                TableName=self._table, Item=to_item(values), ConditionExpression=condition, **extra
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


class DynamoAccountDirectory:
    """Every account of the accounts table, read page by page (keys and status only)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def listings(self) -> Iterator[tuple[str, str]]:
        pages = self._client.get_paginator("scan").paginate(
            TableName=self._table,
            ProjectionExpression="account_id, #status",
            ExpressionAttributeNames={"#status": "status"},
        )
        for page in pages:
            for item in page.get("Items", []):
                values = from_item(item)
                yield values["account_id"], str(values.get("status", ""))


class SqsWorkQueue:
    """The recovery work queue: one message per account to recover."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send_accounts(self, account_ids: Sequence[str]) -> None:
        for start in range(0, len(account_ids), _BATCH):
            chunk = list(account_ids[start : start + _BATCH])
            failed = self._send(chunk)
            if failed:
                failed = self._send(failed)  # SQS may refuse a few entries now and then
            if failed:
                raise RuntimeError(f"{len(failed)} account(s) could not be queued: {failed}")

    def _send(self, account_ids: list[str]) -> list[str]:
        response = self._client.send_message_batch(
            QueueUrl=self._queue_url,
            Entries=[
                {"Id": str(index), "MessageBody": json.dumps({"account_id": account_id})}
                for index, account_id in enumerate(account_ids)
            ],
        )
        return [account_ids[int(entry["Id"])] for entry in response.get("Failed", [])]
