"""DynamoDB storage of payments and connected accounts (tables from infra/template.yaml)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.domain.accounts import (
    AccountChange,
    AccountStatus,
    ActiveChange,
    ConnectedAccount,
    SealedSecrets,
    SecretUnreadable,
    StatusChange,
)
from chalicelib.domain.errors import ConcurrentUpdate, Conflict
from chalicelib.domain.history import Cause, CauseKind, HistoryEntry, change_entry
from chalicelib.domain.payments import DuplicateCharge, InvoiceLine, Payment, PaymentStatus
from chalicelib.domain.sweep import (
    DEFAULT_BACKOFF_SECONDS,
    CheckSchedule,
    CheckStatus,
    schedule_after_change,
)
from chalicelib.ports import SecretBox

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
OUTBOX_PENDING = "pending"
# The sparse `due` index holds open payments only, under this one key, by next check time.
SWEEP_OPEN = "open"
_SCHEDULE_FIELDS = ("sweep", "next_check_at", "sweep_checks", "check_status")


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
    "payment_method_id",
    "duplicate_charges",
    "version",
    "updated_at",
)


class DynamoPaymentStore:
    """Payments, their outbox of notifications (in the payment's item), their history (a table
    of its own, written in the same transaction as each change) and their next check by the
    sweep.

    The outbox comes with every read of the payment, and a write on the payment's version
    knows what it adds to it: the next `unpublished` of that payment is answered from them
    instead of another read. Only removals (notifications published by someone else) can
    happen without a new version, and they at most make one be published again.
    """

    def __init__(
        self,
        client: Any,
        table: str,
        history_table: str | None = None,
        backoff: tuple[int, ...] = DEFAULT_BACKOFF_SECONDS,
    ) -> None:
        self._client = client
        self._table = table
        self._history_table = history_table or history_table_of(table)
        self._backoff = backoff
        # (payment id, version, outbox) of the payment last read or written here, for the
        # next `unpublished` of that payment only.
        self._outbox: tuple[str, int, dict[str, str]] | None = None

    def get(self, payment_id: str) -> Payment | None:
        # Consistent read: a webhook may follow the write by milliseconds.
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"payment_id": payment_id}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        self._outbox = None
        if not item:
            return None
        values = from_item(item)
        payment = _payment(values)
        self._outbox = (payment_id, payment.version, dict(values.get("outbox") or {}))
        return payment

    def insert(self, payment: Payment, cause: Cause | None = None) -> None:
        entry = change_entry(
            None, payment, cause or Cause(CauseKind.CREATED), None, payment.created_at
        )
        values = {**_payment_values(payment), **self._schedule_values(payment)}
        self._outbox = None
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            # The outbox map exists from the start so a transition can add to it.
                            "Item": to_item({**values, "outbox": {}}),
                            "ConditionExpression": "attribute_not_exists(payment_id)",
                        }
                    },
                    {"Put": self._history_put(entry)},
                ]
            )
        except ClientError as error:
            if _condition_failed(error):
                raise Conflict(f"payment {payment.payment_id} already exists") from None
            raise
        self._outbox = (payment.payment_id, payment.version, {})

    def save(
        self,
        payment: Payment,
        expected_version: int,
        notification: Mapping[str, Any] | None,
        change: HistoryEntry | None = None,
    ) -> None:
        values = {**_payment_values(payment), **self._schedule_values(payment)}
        fields = _PAYMENT_FIELDS + _SCHEDULE_FIELDS
        present = [f for f in fields if values.get(f) is not None]
        absent = [f for f in fields if values.get(f) is None]
        sets = [f"#{f} = :{f}" for f in present]
        names = {f"#{f}": f for f in fields}
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
        update = {
            "TableName": self._table,
            "Key": to_item({"payment_id": payment.payment_id}),
            "UpdateExpression": expression,
            "ConditionExpression": "#version = :expected",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(attribute_values),
        }
        # The change and what caused it land together, or neither does.
        items: list[dict[str, Any]] = [{"Update": update}]
        if change is not None:
            items.append({"Put": self._history_put(change)})
        known, self._outbox = self._outbox, None
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _condition_failed(error):
                raise ConcurrentUpdate(f"payment {payment.payment_id} changed") from None
            raise
        if known is not None and known[:2] == (payment.payment_id, expected_version):
            outbox = dict(known[2])
            if notification is not None:
                outbox[notification["notification_id"]] = attribute_values[":n"]
            self._outbox = (payment.payment_id, payment.version, outbox)

    def _schedule_values(self, payment: Payment) -> dict[str, Any]:
        schedule = schedule_after_change(payment, self._backoff)
        if schedule is None:
            return dict.fromkeys(_SCHEDULE_FIELDS)
        return _schedule_item(schedule)

    def _history_put(self, entry: HistoryEntry) -> dict[str, Any]:
        return {
            "TableName": self._history_table,
            "Item": to_item(
                {
                    "payment_id": entry.payment_id,
                    "version": entry.version,
                    "entry": json.dumps(entry.as_dict(), sort_keys=True),
                }
            ),
            # One entry per version: a change is recorded once.
            "ConditionExpression": "attribute_not_exists(payment_id)",
        }

    def history(self, payment_id: str) -> list[HistoryEntry]:
        """Every change of the payment, its creation first."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._history_table,
            KeyConditionExpression="payment_id = :p",
            ExpressionAttributeValues=to_item({":p": payment_id}),
            ConsistentRead=True,
        )
        return [
            HistoryEntry.from_dict(payment_id, json.loads(from_item(item)["entry"]))
            for page in pages
            for item in page["Items"]
        ]

    def check_of(self, payment_id: str) -> CheckSchedule | None:
        """When the sweep checks the payment next (None: it is not open)."""
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"payment_id": payment_id}),
            ProjectionExpression="next_check_at, sweep_checks, check_status",
            ConsistentRead=True,
        )
        values = from_item(response.get("Item", {}))
        if "next_check_at" not in values:
            return None
        return CheckSchedule(
            values["next_check_at"],
            int(values.get("sweep_checks") or 0),
            CheckStatus(values.get("check_status") or CheckStatus.SCHEDULED),
        )

    def due(
        self, now: str, limit: int, start: Mapping[str, Any] | None = None
    ) -> tuple[list[tuple[str, int]], Mapping[str, Any] | None]:
        """A page of open payments due for a check by `now`, the longest overdue first, with
        the checks each had since its last change; the key to read the next page from (None:
        no more due)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "due",
            "KeyConditionExpression": "sweep = :open AND next_check_at <= :now",
            "ExpressionAttributeValues": to_item({":open": SWEEP_OPEN, ":now": now}),
            "Limit": limit,
        }
        if start:
            query["ExclusiveStartKey"] = start
        response = self._client.query(**query)
        due = [
            (values["payment_id"], int(values.get("sweep_checks") or 0))
            for values in map(from_item, response.get("Items", []))
        ]
        return due, response.get("LastEvaluatedKey")

    def count_due(self, now: str) -> int:
        """How many open payments are due by `now` (for an operator's progress bar)."""
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="due",
            KeyConditionExpression="sweep = :open AND next_check_at <= :now",
            ExpressionAttributeValues=to_item({":open": SWEEP_OPEN, ":now": now}),
            Select="COUNT",
        )
        return sum(int(page["Count"]) for page in pages)

    def reschedule(self, payment: Payment, schedule: CheckSchedule) -> bool:
        """Push the payment's next check back, unless it changed (or closed) meanwhile."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"payment_id": payment.payment_id}),
                UpdateExpression=(
                    "SET next_check_at = :at, sweep_checks = :checks, check_status = :status"
                ),
                ConditionExpression="#version = :version AND attribute_exists(sweep)",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues=to_item(
                    {
                        ":at": schedule.next_check_at,
                        ":checks": schedule.checks,
                        ":status": str(schedule.status),
                        ":version": payment.version,
                    }
                ),
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def with_unpublished(
        self, limit: int, start: Mapping[str, Any] | None = None
    ) -> tuple[list[str], Mapping[str, Any] | None]:
        """A page of the payments whose outbox holds notifications, from the sparse index."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "unpublished",
            "KeyConditionExpression": "outbox_pending = :p",
            "ExpressionAttributeValues": to_item({":p": OUTBOX_PENDING}),
            "Limit": limit,
        }
        if start:
            query["ExclusiveStartKey"] = start
        response = self._client.query(**query)
        ids = [from_item(item)["payment_id"] for item in response.get("Items", [])]
        return ids, response.get("LastEvaluatedKey")

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
        known, self._outbox = self._outbox, None
        if known is not None and known[0] == payment_id:
            outbox = known[2]
        else:
            response = self._client.get_item(
                TableName=self._table,
                Key=to_item({"payment_id": payment_id}),
                ProjectionExpression="outbox",
                ConsistentRead=True,
            )
            outbox = from_item(response.get("Item", {})).get("outbox", {})
        notifications = [json.loads(v) for v in outbox.values()]
        # By version number: as text, "pay_x.v10" would come before "pay_x.v9".
        return sorted(notifications, key=lambda n: int(n["version"]))

    def mark_published(self, payment_id: str, notification_id: str) -> None:
        self._outbox = None
        names = {"#outbox": "outbox", "#nid": notification_id}
        try:
            # Most often it is the only one: the outbox and its flag go in one write.
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"payment_id": payment_id}),
                UpdateExpression="REMOVE #outbox.#nid, outbox_pending",
                ConditionExpression="attribute_exists(#outbox.#nid) AND size(#outbox) = :one",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({":one": 1}),
            )
            return
        except ClientError as error:
            if not _condition_failed(error):
                raise
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item({"payment_id": payment_id}),
            UpdateExpression="REMOVE #outbox.#nid",
            ExpressionAttributeNames=names,
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


def history_table_of(payments_table: str) -> str:
    """The history table beside a payments table ("<ServiceName>-payment-history")."""
    return payments_table.removesuffix("-payments") + "-payment-history"


def _schedule_item(schedule: CheckSchedule) -> dict[str, Any]:
    return {
        "sweep": SWEEP_OPEN,
        "next_check_at": schedule.next_check_at,
        "sweep_checks": schedule.checks,
        "check_status": str(schedule.status),
    }


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


# The record that names a company's active account shares the accounts table; it has no
# company_id, so it never shows in the by_company index.
_ACTIVE_PREFIX = "company#"
_ACCOUNT_FIELDS = (
    "company_id",
    "livemode",
    "connected_at",
    "status",
    "scope",
    "connected_by",
    "disconnected_at",
    "replaced_at",
    "replaced_by",
    "version",
    "imported_at",
    "email",
    "history",
    "not_connected_yet",
)


class DynamoAccountStore:
    """Connected accounts with their outbox of notifications, and which one is each company's
    active account (the rules are in chalicelib/services/accounts.py).

    Webhook signing secrets are stored sealed by the SecretBox (KMS), never in clear.
    """

    def __init__(self, client: Any, table: str, box: SecretBox | None = None) -> None:
        self._client = client
        self._table = table
        self._box = box

    def get(self, account_id: str) -> ConnectedAccount | None:
        response = self._client.get_item(
            TableName=self._table, Key=to_item({"account_id": account_id}), ConsistentRead=True
        )
        item = response.get("Item")
        return self._account(from_item(item)) if item else None

    def for_company(self, company_id: str) -> list[ConnectedAccount]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName="by_company",
            KeyConditionExpression="company_id = :c",
            ExpressionAttributeValues=to_item({":c": company_id}),
        )
        # The index holds keys only (and lags): the table says what each account is now.
        keys = [from_item(item)["account_id"] for page in pages for item in page["Items"]]
        found = (self.get(account_id) for account_id in keys)
        accounts = [a for a in found if a is not None and a.company_id == company_id]
        return sorted(accounts, key=lambda a: a.connected_at or a.known_since, reverse=True)

    def active_account_id(self, company_id: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"account_id": _ACTIVE_PREFIX + company_id}),
            ConsistentRead=True,
        )
        return from_item(response.get("Item", {})).get("active_account_id")

    def put(self, account: ConnectedAccount) -> None:
        values = _account_values(account)
        values["webhook_secrets_sealed"] = self._sealed(account) or None
        self._client.put_item(TableName=self._table, Item=to_item({**values, "outbox": {}}))

    def write(
        self,
        changes: Sequence[AccountChange],
        active: ActiveChange | None,
        no_active_for: str | None = None,
    ) -> None:
        items: list[dict[str, Any]] = [{"Update": self._change(change)} for change in changes]
        if active is not None:
            items.append({"Update": self._active_change(active)})
        if no_active_for is not None:
            # Checked, not written: a pending account is never the company's active one.
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": to_item({"account_id": _ACTIVE_PREFIX + no_active_for}),
                        "ConditionExpression": "attribute_not_exists(active_account_id)",
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _condition_failed(error):
                raise ConcurrentUpdate("an account changed meanwhile") from None
            raise

    def _change(self, change: AccountChange) -> dict[str, Any]:
        values = _account_values(change.account)
        present = [f for f in _ACCOUNT_FIELDS if values.get(f) is not None]
        absent = [f for f in _ACCOUNT_FIELDS if values.get(f) is None]
        names = {f"#{f}": f for f in _ACCOUNT_FIELDS}
        attribute_values: dict[str, Any] = {f":{f}": values[f] for f in present}
        attribute_values[":expected"] = change.expected_version
        sets = [f"#{f} = :{f}" for f in present]
        if change.notification is not None:
            notification = json.dumps(change.notification, sort_keys=True)
            if change.expected_version == 0:  # a new (or older) item: no outbox yet
                sets.append("outbox = :outbox")
                attribute_values[":outbox"] = {change.notification["notification_id"]: notification}
            else:
                sets.append("outbox.#nid = :n")
                names["#nid"] = change.notification["notification_id"]
                attribute_values[":n"] = notification
            # In the sparse `unpublished` index until the outbox is empty again (the sweep).
            sets.append("outbox_pending = :pending")
            attribute_values[":pending"] = OUTBOX_PENDING
        expression = "SET " + ", ".join(sets)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{f}" for f in absent)
        condition = "#version = :expected"
        if change.expected_version == 0:
            condition = "attribute_not_exists(#version) OR #version = :expected"
        return {
            "TableName": self._table,
            "Key": to_item({"account_id": change.account.account_id}),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(attribute_values),
        }

    def _active_change(self, active: ActiveChange) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if active.active is None:
            expression = "REMOVE active_account_id"
        else:
            expression = "SET active_account_id = :a"
            values[":a"] = active.active
        if active.expected is None:
            condition = "attribute_not_exists(active_account_id)"
        else:
            condition = "active_account_id = :e"
            values[":e"] = active.expected
        update = {
            "TableName": self._table,
            "Key": to_item({"account_id": _ACTIVE_PREFIX + active.company_id}),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
        }
        if values:
            update["ExpressionAttributeValues"] = to_item(values)
        return update

    def set_webhook_secrets(
        self, account_id: str, secrets: tuple[str, ...]
    ) -> ConnectedAccount | None:
        sealed = [self._seal(secret, account_id) for secret in secrets]
        # Only this attribute: a disconnect or reconnect racing with it must survive.
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                # Secrets stored in clear before they were sealed go with this write.
                UpdateExpression="SET webhook_secrets_sealed = :s REMOVE webhook_secrets",
                ConditionExpression="attribute_exists(account_id) AND attribute_exists(company_id)",
                ExpressionAttributeValues=to_item({":s": sealed}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return self._account(from_item(response["Attributes"]))

    def unpublished(self, account_id: str) -> list[Mapping[str, Any]]:
        response = self._client.get_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id}),
            ProjectionExpression="outbox",
            ConsistentRead=True,
        )
        outbox = from_item(response.get("Item", {})).get("outbox", {})
        return sorted((json.loads(v) for v in outbox.values()), key=lambda n: n["version"])

    def mark_published(self, account_id: str, notification_id: str) -> None:
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item({"account_id": account_id}),
            UpdateExpression="REMOVE #outbox.#nid",
            ExpressionAttributeNames={"#outbox": "outbox", "#nid": notification_id},
            ReturnValues="ALL_NEW",
        )
        if from_item(response["Attributes"]).get("outbox"):
            return
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"account_id": account_id}),
                UpdateExpression="REMOVE outbox_pending",
                ConditionExpression="size(outbox) = :zero",
                ExpressionAttributeValues=to_item({":zero": 0}),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def with_unpublished(
        self, limit: int, start: Mapping[str, Any] | None = None
    ) -> tuple[list[str], Mapping[str, Any] | None]:
        """A page of the accounts whose outbox holds notifications, from the sparse index."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "unpublished",
            "KeyConditionExpression": "outbox_pending = :p",
            "ExpressionAttributeValues": to_item({":p": OUTBOX_PENDING}),
            "Limit": limit,
        }
        if start:
            query["ExclusiveStartKey"] = start
        response = self._client.query(**query)
        ids = [from_item(item)["account_id"] for item in response.get("Items", [])]
        return ids, response.get("LastEvaluatedKey")

    def _sealed(self, account: ConnectedAccount) -> list[str]:
        if isinstance(account.webhook_secrets, SealedSecrets):
            return list(account.webhook_secrets.sealed)
        return [self._seal(secret, account.account_id) for secret in account.webhook_secrets]

    def _seal(self, secret: str, account_id: str) -> str:
        if self._box is None:
            raise RuntimeError("no SecretBox: signing secrets are never stored in clear")
        return self._box.seal(secret, account_id)

    def _open(self, account_id: str) -> Callable[[str], str]:
        def open_one(sealed: str) -> str:
            if self._box is None:
                raise SecretUnreadable("no SecretBox to open the secrets with")
            return self._box.open(sealed, account_id)

        return open_one

    def _account(self, values: dict[str, Any]) -> ConnectedAccount:
        fields = {k: values[k] for k in ConnectedAccount.__dataclass_fields__ if k in values}
        fields["status"] = AccountStatus(values["status"])
        sealed = values.get("webhook_secrets_sealed") or ()
        # Older items hold them in clear until the next PUT seals them: still honoured.
        fields["webhook_secrets"] = (
            SealedSecrets(sealed, self._open(values["account_id"]))
            if sealed
            else tuple(values.get("webhook_secrets") or ())
        )
        fields["version"] = values.get("version", 0)
        if values.get("not_connected_yet"):
            fields["connected_at"] = None  # the item's is the index's key: its import
        fields["history"] = tuple(StatusChange(**step) for step in values.get("history") or ())
        return ConnectedAccount(**fields)


def _account_values(account: ConnectedAccount) -> dict[str, Any]:
    values = asdict(account)
    del values["webhook_secrets"]
    values["status"] = str(account.status)
    values["history"] = list(values["history"]) or None
    if account.connected_at is None:
        # `connected_at` is the by_company index's sort key: an account never connected yet
        # (imported, pending authorisation) is listed under its import time.
        values["connected_at"] = account.known_since or None
        values["not_connected_yet"] = True
    return values
