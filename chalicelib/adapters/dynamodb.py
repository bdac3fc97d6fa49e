"""DynamoDB storage of payments and connected accounts (tables from infra/template.yaml)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.connect import Attach, attach_outcome
from chalicelib.domain.errors import ConcurrentUpdate, Conflict
from chalicelib.domain.payments import DuplicateCharge, InvoiceLine, Payment, PaymentStatus

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
OUTBOX_PENDING = "pending"


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item; None values are left out so sparse indexes stay sparse."""
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _condition_failed(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


_PAYMENT_FIELDS = (
    "status",
    "payment_intent_id",
    "amount_received",
    "amount_remaining",
    "charge_id",
    "source_id",
    "failure_code",
    "failure_message",
    "duplicate_charges",
    "version",
    "updated_at",
)


class DynamoPaymentStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, payment_id: str) -> Payment | None:
        # Consistent read: a webhook may follow the write by milliseconds.
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"payment_id": payment_id}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _payment(from_item(item)) if item else None

    def insert(self, payment: Payment) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                # The outbox map exists from the start so a transition can add to it.
                Item=to_item({**_payment_values(payment), "outbox": {}}),
                ConditionExpression="attribute_not_exists(payment_id)",
            )
        except ClientError as error:
            if _condition_failed(error):
                raise Conflict(f"payment {payment.payment_id} already exists") from None
            raise

    def save(
        self, payment: Payment, expected_version: int, notification: Mapping[str, Any] | None
    ) -> None:
        values = _payment_values(payment)
        present = [f for f in _PAYMENT_FIELDS if values.get(f) is not None]
        absent = [f for f in _PAYMENT_FIELDS if values.get(f) is None]
        sets = [f"#{f} = :{f}" for f in present]
        names = {f"#{f}": f for f in _PAYMENT_FIELDS}
        attribute_values: dict[str, Any] = {f":{f}": values[f] for f in present}
        attribute_values[":expected"] = expected_version
        if notification is not None:
            # The notification rides in the same item write as the state: both land or neither.
            sets += ["outbox.#nid = :n", "outbox_pending = :p"]
            names["#nid"] = notification["notification_id"]
            attribute_values[":n"] = json.dumps(notification, sort_keys=True)
            attribute_values[":p"] = OUTBOX_PENDING
        expression = "SET " + ", ".join(sets)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{f}" for f in absent)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"payment_id": payment.payment_id}),
                UpdateExpression=expression,
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(attribute_values),
            )
        except ClientError as error:
            if _condition_failed(error):
                raise ConcurrentUpdate(f"payment {payment.payment_id} changed") from None
            raise

    def find_by_charge(self, charge_id: str) -> Payment | None:
        return self._find("by_charge", "charge_id", charge_id)

    def find_by_source(self, source_id: str) -> Payment | None:
        return self._find("by_source", "source_id", source_id)

    def _find(self, index: str, key: str, value: str) -> Payment | None:
        response = self._client.query(
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression="#k = :v",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues=to_item({":v": value}),
            ProjectionExpression="payment_id",
            Limit=1,
        )
        items = response.get("Items", [])
        # Indexes project only keys (no payment facts outside the table), and are eventually
        # consistent: the index says which payment, a consistent read of the table its state.
        return self.get(from_item(items[0])["payment_id"]) if items else None

    def unpublished(self, payment_id: str) -> list[Mapping[str, Any]]:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"payment_id": payment_id}),
            ProjectionExpression="outbox",
            ConsistentRead=True,
        )
        outbox = from_item(response.get("Item", {})).get("outbox", {})
        notifications = [json.loads(v) for v in outbox.values()]
        return sorted(
            notifications, key=lambda n: (n.get("occurred_at") or "", n["notification_id"])
        )

    def mark_published(self, payment_id: str, notification_id: str) -> None:
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item({"payment_id": payment_id}),
            UpdateExpression="REMOVE #outbox.#nid",
            ExpressionAttributeNames={"#outbox": "outbox", "#nid": notification_id},
            ReturnValues="ALL_NEW",
        )
        if from_item(response["Attributes"]).get("outbox"):
            return
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"payment_id": payment_id}),
                UpdateExpression="REMOVE outbox_pending",
                ConditionExpression="size(outbox) = :zero",
                ExpressionAttributeValues=to_item({":zero": 0}),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise


def _payment_values(payment: Payment) -> dict[str, Any]:
    values = asdict(payment)
    values["status"] = str(payment.status)
    values["invoices"] = [asdict(line) for line in payment.invoices]
    values["duplicate_charges"] = [asdict(c) for c in payment.duplicate_charges] or None
    return values


def _payment(values: dict[str, Any]) -> Payment:
    fields: dict[str, Any] = {k: values[k] for k in Payment.__dataclass_fields__ if k in values}
    fields["status"] = PaymentStatus(values["status"])
    fields["invoices"] = tuple(InvoiceLine(**line) for line in values["invoices"])
    fields["duplicate_charges"] = tuple(
        DuplicateCharge(**charge) for charge in values.get("duplicate_charges") or ()
    )
    return Payment(**fields)


class DynamoAccountStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, account_id: str) -> ConnectedAccount | None:
        response = self._client.get_item(
            TableName=self._table, Key=to_item({"account_id": account_id}), ConsistentRead=True
        )
        item = response.get("Item")
        return _account(from_item(item)) if item else None

    def connected_for_company(self, company_id: str) -> ConnectedAccount | None:
        """The company's most recently connected account (connected or not), if any."""
        accounts = self.for_company(company_id)
        connected = [a for a in accounts if a.is_connected]
        candidates = connected or accounts
        return candidates[0] if candidates else None

    def for_company(self, company_id: str) -> list[ConnectedAccount]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="by_company",
            KeyConditionExpression="company_id = :c",
            ExpressionAttributeValues=to_item({":c": company_id}),
            ScanIndexForward=False,
        )
        return [_account(from_item(item)) for page in pages for item in page.get("Items", [])]

    def attach(self, account: ConnectedAccount) -> tuple[Attach, ConnectedAccount | None]:
        values = {
            ":company": account.company_id,
            ":livemode": account.livemode,
            ":scope": account.scope,
            ":on": str(AccountStatus.CONNECTED),
            ":off": str(AccountStatus.DISCONNECTED),
            ":at": account.connected_at,
            ":by": account.connected_by,
        }
        sets = "company_id = :company, livemode = :livemode, #scope = :scope, #status = :on, "
        sets += "connected_at = :at" + (", connected_by = :by" if account.connected_by else "")
        removes = "disconnected_at" + ("" if account.connected_by else ", connected_by")
        try:
            # Only a new account, or one this company disconnected: never another's.
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account.account_id}),
                UpdateExpression=f"SET {sets} REMOVE {removes}",
                ConditionExpression="attribute_not_exists(account_id) OR "
                "(company_id = :company AND #status = :off)",
                ExpressionAttributeNames={"#status": "status", "#scope": "scope"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            old = error.response.get("Item")
            before = _account(from_item(old)) if old else self.get(account.account_id)
            return attach_outcome(before, account.company_id), before
        old = response.get("Attributes")
        return Attach.CONNECTED, _account(from_item(old)) if old else None

    def put(self, account: ConnectedAccount) -> None:
        values = asdict(account)
        values["status"] = str(account.status)
        values["webhook_secrets"] = list(account.webhook_secrets) or None
        self._client.put_item(TableName=self._table, Item=to_item(values))

    def set_webhook_secrets(
        self, account_id: str, secrets: tuple[str, ...]
    ) -> ConnectedAccount | None:
        # Only this attribute: a disconnect or reconnect racing with it must survive.
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                UpdateExpression="SET webhook_secrets = :s",
                ConditionExpression="attribute_exists(account_id)",
                ExpressionAttributeValues=to_item({":s": list(secrets)}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return _account(from_item(response["Attributes"]))

    def mark_disconnected(self, account_id: str, at: str) -> ConnectedAccount | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                UpdateExpression="SET #status = :off, disconnected_at = :at",
                ConditionExpression="attribute_exists(account_id) AND #status = :on",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        ":off": str(AccountStatus.DISCONNECTED),
                        ":on": str(AccountStatus.CONNECTED),
                        ":at": at,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            return self.get(account_id)  # already disconnected (first writer wins), or unknown
        return _account(from_item(response["Attributes"]))


def _account(values: dict[str, Any]) -> ConnectedAccount:
    fields = {k: values[k] for k in ConnectedAccount.__dataclass_fields__ if k in values}
    fields["status"] = AccountStatus(values["status"])
    fields["webhook_secrets"] = tuple(values.get("webhook_secrets") or ())
    return ConnectedAccount(**fields)


def _notification_order(notification: Mapping[str, Any]) -> int:
    # Versions only grow, so they order a payment's notifications (v10 after v9).
    return int(notification["notification_id"].rsplit(".v", 1)[1])
