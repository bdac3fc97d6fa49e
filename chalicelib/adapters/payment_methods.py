"""DynamoDB storage of customers' saved payment methods (`<ServiceName>-payment-methods`), with
the outbox of what the platform is to be told of them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import from_item, to_item
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.payment_methods import SavedPaymentMethod

_KEYS = ("account_id", "payment_method_id")


class DynamoPaymentMethodStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, account_id: str, payment_method_id: str) -> SavedPaymentMethod | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=_key(account_id, payment_method_id),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        fields = SavedPaymentMethod.__dataclass_fields__
        return SavedPaymentMethod(**{k: v for k, v in values.items() if k in fields})

    def save(
        self,
        method: SavedPaymentMethod,
        expected_version: int,
        notification: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            if expected_version == 0:
                self._insert(method, notification)
            else:
                self._update(method, expected_version, notification)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(
                    f"payment method {method.payment_method_id} changed"
                ) from None
            raise

    def _insert(self, method: SavedPaymentMethod, notification: Mapping[str, Any] | None) -> None:
        outbox = {notification["notification_id"]: _encoded(notification)} if notification else {}
        self._client.put_item(
            TableName=self._table,
            Item=to_item({**asdict(method), "outbox": outbox}),
            ConditionExpression="attribute_not_exists(payment_method_id)",
        )

    def _update(
        self,
        method: SavedPaymentMethod,
        expected_version: int,
        notification: Mapping[str, Any] | None,
        outbox_exists: bool = True,
    ) -> None:
        values = {k: v for k, v in asdict(method).items() if k not in _KEYS}
        present = [f for f in values if values[f] is not None]
        absent = [f for f in values if values[f] is None]
        names = {f"#{f}": f for f in values}
        attribute_values: dict[str, Any] = {f":{f}": values[f] for f in present}
        attribute_values[":expected"] = expected_version
        sets = [f"#{f} = :{f}" for f in present]
        if notification is not None:
            # The notification rides in the same item write as the method: both land or neither.
            nid = notification["notification_id"]
            if outbox_exists:
                sets.append("outbox.#nid = :n")
                names["#nid"] = nid
                attribute_values[":n"] = _encoded(notification)
            else:
                sets.append("outbox = :outbox")
                attribute_values[":outbox"] = {nid: _encoded(notification)}
        expression = "SET " + ", ".join(sets)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{f}" for f in absent)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(method.account_id, method.payment_method_id),
                UpdateExpression=expression,
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(attribute_values),
            )
        except ClientError as error:
            # An item stored before notifications existed has no outbox to add to.
            if outbox_exists and notification is not None and _no_outbox(error):
                self._update(method, expected_version, notification, outbox_exists=False)
                return
            raise

    def unpublished(self, account_id: str, payment_method_id: str) -> list[Mapping[str, Any]]:
        response = self._client.get_item(
            TableName=self._table,
            Key=_key(account_id, payment_method_id),
            ProjectionExpression="outbox",
            ConsistentRead=True,
        )
        outbox = from_item(response.get("Item", {})).get("outbox", {})
        return sorted((json.loads(v) for v in outbox.values()), key=lambda n: n["version"])

    def mark_published(self, account_id: str, payment_method_id: str, notification_id: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=_key(account_id, payment_method_id),
            UpdateExpression="REMOVE #outbox.#nid",
            ExpressionAttributeNames={"#outbox": "outbox", "#nid": notification_id},
        )


def _key(account_id: str, payment_method_id: str) -> dict[str, Any]:
    return to_item({"account_id": account_id, "payment_method_id": payment_method_id})


def _encoded(notification: Mapping[str, Any]) -> str:
    return json.dumps(notification, sort_keys=True)


def _no_outbox(error: ClientError) -> bool:
    details = error.response["Error"]
    return details["Code"] == "ValidationException" and "document path" in details.get(
        "Message", ""
    )
