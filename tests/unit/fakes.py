"""In-memory stand-ins for the ports, for unit tests of the services: no AWS, no network.

Stripe is the stand-in's own state machine (local.stripe_standin.state.Store), driven in-process:
the objects the service re-fetches evolve along a customer's journey as they would on Stripe.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.errors import ConcurrentUpdate, Conflict, StripeRejected
from chalicelib.domain.payment_methods import SavedPaymentMethod
from chalicelib.domain.payments import Payment
from local.stripe_standin.errors import StripeError
from local.stripe_standin.state import Store


class MemoryPayments:
    """PaymentStore: conditional writes on the version, the outbox inside the payment."""

    def __init__(self) -> None:
        self.items: dict[str, Payment] = {}
        self.outboxes: dict[str, dict[str, dict[str, Any]]] = {}
        # Reads of a consumer that lost a race: the payments as they were when it read.
        self.as_of: Callable[[], Mapping[str, Payment] | None] | None = None
        self.writes = 0  # attempted: whoever writes reads at least what it wrote, or was refused
        self.entries: dict[str, list[Any]] = {}  # each payment's history, as written

    def _items(self) -> Mapping[str, Payment]:
        past = self.as_of() if self.as_of is not None else None
        return self.items if past is None else past

    def get(self, payment_id: str) -> Payment | None:
        return self._items().get(payment_id)

    def insert(self, payment: Payment, cause: Any = None) -> None:
        self.writes += 1
        if payment.payment_id in self.items:
            raise Conflict(f"payment {payment.payment_id} already exists")
        self.items[payment.payment_id] = payment
        self.outboxes[payment.payment_id] = {}
        self.entries[payment.payment_id] = [("created", cause)]

    def save(
        self,
        payment: Payment,
        expected_version: int,
        notification: Mapping[str, Any] | None,
        change: Any = None,
    ) -> None:
        self.writes += 1
        stored = self.items.get(payment.payment_id)
        if stored is None or stored.version != expected_version:
            raise ConcurrentUpdate(f"payment {payment.payment_id} changed")
        self.items[payment.payment_id] = payment
        if change is not None:
            self.entries.setdefault(payment.payment_id, []).append(change)
        if notification is not None:
            # Stored as JSON, as the adapter does: what is published is what was written.
            copied = json.loads(json.dumps(notification))
            self.outboxes[payment.payment_id][notification["notification_id"]] = copied

    def find_by_charge(self, charge_id: str) -> Payment | None:
        return next((p for p in self._items().values() if p.charge_id == charge_id), None)

    def find_by_source(self, source_id: str) -> Payment | None:
        return next((p for p in self._items().values() if p.source_id == source_id), None)

    def unpublished(self, payment_id: str) -> list[Mapping[str, Any]]:
        pending = list(self.outboxes.get(payment_id, {}).values())
        return sorted(pending, key=lambda n: int(n["version"]))

    def mark_published(self, payment_id: str, notification_id: str) -> None:
        self.outboxes.get(payment_id, {}).pop(notification_id, None)


class MemoryAccounts:
    def __init__(self, *accounts: ConnectedAccount) -> None:
        self.items = {a.account_id: a for a in accounts}

    def get(self, account_id: str) -> ConnectedAccount | None:
        return self.items.get(account_id)

    def connected_for_company(self, company_id: str) -> ConnectedAccount | None:
        found = [a for a in self.items.values() if a.company_id == company_id]
        connected = [a for a in found if a.has_access]
        return (connected or found or [None])[0]

    def put(self, account: ConnectedAccount) -> None:
        self.items[account.account_id] = account

    def mark_disconnected(self, account_id: str, at: str) -> ConnectedAccount | None:
        account = self.items.get(account_id)
        if account is not None and account.has_access:
            account = replace(account, status=AccountStatus.DISCONNECTED, disconnected_at=at)
            self.items[account_id] = account
        return account


class MemoryPaymentMethods:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], SavedPaymentMethod] = {}
        self.outboxes: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}

    def get(self, account_id: str, payment_method_id: str) -> SavedPaymentMethod | None:
        return self.items.get((account_id, payment_method_id))

    def save(
        self,
        method: SavedPaymentMethod,
        expected_version: int,
        notification: Mapping[str, Any] | None = None,
    ) -> None:
        key = (method.account_id, method.payment_method_id)
        stored = self.items.get(key)
        if (stored.version if stored else 0) != expected_version:
            raise ConcurrentUpdate(f"payment method {method.payment_method_id} changed")
        self.items[key] = method
        if notification is not None:
            self.outboxes.setdefault(key, {})[notification["notification_id"]] = notification

    def unpublished(self, account_id: str, payment_method_id: str) -> list[Mapping[str, Any]]:
        outbox = self.outboxes.get((account_id, payment_method_id), {})
        return sorted(outbox.values(), key=lambda n: n["version"])

    def mark_published(self, account_id: str, payment_method_id: str, notification_id: str) -> None:
        self.outboxes.get((account_id, payment_method_id), {}).pop(notification_id, None)


class NotifierDown(RuntimeError):
    """The bus refused a notification (it never reached the platform)."""


@dataclass
class RecordingNotifier:
    """Keeps what reached the platform; while `down`, nothing does and publishing raises."""

    published: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False

    def publish(self, notification: Mapping[str, Any]) -> None:
        if self.down:
            raise NotifierDown("EventBridge unavailable")
        self.published.append(dict(notification))

    def ids(self) -> list[str]:
        return [n["notification_id"] for n in self.published]


class StoreStripe:
    """StripeGateway over the stand-in's in-memory Store (no HTTP), idempotency keys included."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._answers: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[str] = []
        # Reads of a consumer that lost a race: the objects as they were at the moment it read.
        self.as_of: Callable[[], Mapping[str, dict[str, Any]] | None] | None = None

    def _call(self, name: str, action: Any) -> dict[str, Any]:
        self.calls.append(name)
        try:
            return action()
        except StripeError as error:
            raise StripeRejected(error.message, code=error.code, status=error.status) from None

    def _get(self, account_id: str, kind: str, object_id: str) -> dict[str, Any]:
        past = self.as_of() if self.as_of is not None else None
        if past is not None and object_id in past:
            return copy.deepcopy(past[object_id])
        return self.store.get(account_id, kind, object_id)

    def _once(self, account_id: str, key: str, action: Any) -> dict[str, Any]:
        if (account_id, key) not in self._answers:
            self._answers[account_id, key] = action()
        return copy.deepcopy(self._answers[account_id, key])

    def create_payment_intent(
        self, account_id: str, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        def create() -> dict[str, Any]:
            return self.store.create_payment_intent(
                account_id,
                amount=params["amount"],
                currency=params["currency"],
                metadata=dict(params.get("metadata") or {}),
                payment_method_types=params.get("payment_method_types"),
                customer=None,
                description=params.get("description"),
            )

        return self._call(
            "create_payment_intent", lambda: self._once(account_id, idempotency_key, create)
        )

    def retrieve_payment_intent(self, account_id: str, payment_intent_id: str) -> dict[str, Any]:
        return self._call(
            "retrieve_payment_intent",
            lambda: self._get(account_id, "payment_intent", payment_intent_id),
        )

    def cancel_payment_intent(self, account_id: str, payment_intent_id: str) -> dict[str, Any]:
        return self._call(
            "cancel_payment_intent",
            lambda: self.store.cancel_payment_intent(
                account_id, payment_intent_id, reason="duplicate"
            ),
        )

    def retrieve_charge(self, account_id: str, charge_id: str) -> dict[str, Any]:
        return self._call("retrieve_charge", lambda: self._get(account_id, "charge", charge_id))

    def retrieve_source(self, account_id: str, source_id: str) -> dict[str, Any]:
        return self._call("retrieve_source", lambda: self._get(account_id, "source", source_id))

    def create_charge(
        self, account_id: str, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        def create() -> dict[str, Any]:
            return self.store.charge_source(
                account_id,
                source_id=params["source"],
                amount=params["amount"],
                currency=params["currency"],
                metadata=dict(params.get("metadata") or {}),
                description=None,
                customer=None,
            )

        return self._call("create_charge", lambda: self._once(account_id, idempotency_key, create))

    def retrieve_bank_account(
        self, account_id: str, customer_id: str, bank_account_id: str
    ) -> dict[str, Any]:
        return self._call(
            "retrieve_bank_account",
            lambda: self.store.get_customer_source(account_id, customer_id, bank_account_id),
        )

    def account_is_connected(self, account_id: str) -> bool:
        self.calls.append("account_is_connected")
        return self.store.has_access(account_id)
