"""Connect links and OAuth states in the ConnectSessions table (key `id`, TTL `expires_at`)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamodb import from_item, to_item
from chalicelib.domain.connect import ConnectRequest, Pending
from chalicelib.domain.errors import Conflict


class DynamoConnectSessions:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, key: str, pending: Pending) -> None:
        request = pending.request
        item = {
            "id": key,
            "company_id": request.company_id,
            "email": request.email,
            "connected_by": request.connected_by,
            "locale": request.locale,
            "return_url": request.return_url,
            "company_name": request.company_name,
            "replace": request.replace or None,
            "expires_at": pending.expires_at,
            "binding": pending.binding,
            "csrf": pending.csrf,
        }
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict("a connect session with that key exists") from None
            raise

    def get(self, key: str) -> Pending | None:
        response = self._client.get_item(
            TableName=self._table, Key=to_item({"id": key}), ConsistentRead=True
        )
        if "Item" not in response:
            return None
        values = from_item(response["Item"])
        return Pending(
            request=ConnectRequest(
                company_id=values["company_id"],
                email=values.get("email"),
                connected_by=values.get("connected_by"),
                locale=values.get("locale"),
                return_url=values.get("return_url"),
                company_name=values.get("company_name"),
                replace=bool(values.get("replace", False)),
            ),
            expires_at=values["expires_at"],
            used_at=values.get("used_at"),
            binding=values.get("binding"),
            csrf=values.get("csrf"),
        )

    def use(self, key: str, at: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"id": key}),
                UpdateExpression="SET used_at = :at",
                ConditionExpression="attribute_exists(id) AND attribute_not_exists(used_at)",
                ExpressionAttributeValues=to_item({":at": at}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
