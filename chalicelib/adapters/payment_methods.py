"""DynamoDB storage of customers' saved payment methods (`<ServiceName>-payment-methods`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import from_item, to_item
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.payment_methods import SavedPaymentMethod


class DynamoPaymentMethodStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, account_id: str, payment_method_id: str) -> SavedPaymentMethod | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id, "payment_method_id": payment_method_id}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        fields = SavedPaymentMethod.__dataclass_fields__
        return SavedPaymentMethod(**{k: v for k, v in values.items() if k in fields})

    def save(self, method: SavedPaymentMethod, expected_version: int) -> None:
        if expected_version == 0:
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(payment_method_id)"
            }
        else:
            condition = {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": to_item({":expected": expected_version}),
            }
        try:
            self._client.put_item(TableName=self._table, Item=to_item(asdict(method)), **condition)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdate(
                    f"payment method {method.payment_method_id} changed"
                ) from None
            raise
