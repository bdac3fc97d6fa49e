"""The service's view of the outside world: one interface per external system.

Adapters in chalicelib/adapters implement these against DynamoDB, SQS, EventBridge and Stripe;
tests may implement them in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.accounts import AccountChange, ActiveChange, ConnectedAccount
from chalicelib.domain.connect import Authorization, Pending
from chalicelib.domain.failures import EventFailure
from chalicelib.domain.history import Cause, HistoryEntry
from chalicelib.domain.payment_methods import SavedPaymentMethod
from chalicelib.domain.payments import Payment
from chalicelib.domain.recovery import Watermark
from chalicelib.domain.sweep import CheckSchedule
from chalicelib.domain.webhook_health import HourBucket
from chalicelib.domain.webhooks import EventEnvelope


class PaymentStore(Protocol):
    def get(self, payment_id: str) -> Payment | None: ...

    def insert(self, payment: Payment, cause: Cause | None = None) -> None:
        """Store a new payment, its creation the first entry of its history; Conflict if one
        with that id exists."""

    def save(
        self,
        payment: Payment,
        expected_version: int,
        notification: Mapping[str, Any] | None,
        change: HistoryEntry | None = None,
    ) -> None:
        """Write the payment, queue its notification (if any) and record the change in its
        history (if given), atomically.

        ConcurrentUpdate if the stored version is not expected_version (expected_version 0
        also means the record may not exist yet).
        """

    def find_by_charge(self, charge_id: str) -> Payment | None: ...

    def find_by_source(self, source_id: str) -> Payment | None: ...

    def unpublished(self, payment_id: str) -> list[Mapping[str, Any]]:
        """Notifications written with the payment but not yet published, oldest first."""

    def mark_published(self, payment_id: str, notification_id: str) -> None: ...


class PaymentHistory(Protocol):
    def history(self, payment_id: str) -> list[HistoryEntry]:
        """Every recorded change of the payment, its creation first."""


class SweepStore(Protocol):
    """The open payments by next check time, and the payments with unpublished notifications."""

    def due(
        self, now: str, limit: int, start: Mapping[str, Any] | None = None
    ) -> tuple[list[tuple[str, int]], Mapping[str, Any] | None]:
        """A page of payments due by `now` (id, checks since their last change), and where
        the next page starts (or None)."""

    def reschedule(self, payment: Payment, schedule: CheckSchedule) -> bool:
        """Set the next check unless the payment changed or closed since it was read."""

    def check_of(self, payment_id: str) -> CheckSchedule | None: ...

    def with_unpublished(
        self, limit: int, start: Mapping[str, Any] | None = None
    ) -> tuple[list[str], Mapping[str, Any] | None]: ...


class AccountStore(Protocol):
    def get(self, account_id: str) -> ConnectedAccount | None: ...

    def connected_for_company(self, company_id: str) -> ConnectedAccount | None:
        """The company's active account, else its latest one that is not replaced, if any."""

    def put(self, account: ConnectedAccount) -> None: ...

    def mark_disconnected(self, account_id: str, at: str) -> ConnectedAccount | None:
        """Disconnect the account (idempotent); the stored account afterwards, None if unknown."""

    def set_webhook_secrets(
        self, account_id: str, secrets: tuple[str, ...]
    ) -> ConnectedAccount | None:
        """Replace only the account's signing secrets; the account afterwards, None if unknown."""

    def for_company(self, company_id: str) -> list[ConnectedAccount]:
        """Every account the company ever connected, the most recently connected first."""


class AccountRecords(Protocol):
    """The accounts table itself: versioned writes with an outbox, no rules."""

    def get(self, account_id: str) -> ConnectedAccount | None: ...

    def for_company(self, company_id: str) -> list[ConnectedAccount]: ...

    def put(self, account: ConnectedAccount) -> None: ...

    def set_webhook_secrets(
        self, account_id: str, secrets: tuple[str, ...]
    ) -> ConnectedAccount | None: ...

    def active_account_id(self, company_id: str) -> str | None:
        """The account the company's active-account record names (None: no record yet)."""

    def write(
        self,
        changes: Sequence[AccountChange],
        active: ActiveChange | None,
        no_active_for: str | None = None,
    ) -> None:
        """Write every change (and move the company's active account) atomically, or nothing:
        ConcurrentUpdate if an account is no longer at its expected version, the active
        account is no longer the expected one, or company `no_active_for` has one."""

    def unpublished(self, account_id: str) -> list[Mapping[str, Any]]:
        """Notifications written with the account but not yet published, oldest first."""

    def mark_published(self, account_id: str, notification_id: str) -> None: ...

    def with_unpublished(
        self, limit: int, start: Mapping[str, Any] | None = None
    ) -> tuple[list[str], Mapping[str, Any] | None]:
        """A page of ids of accounts with notifications not yet published, and where the
        next page starts (or None)."""


class Secrets(Protocol):
    """The service's own secrets (SSM Parameter Store under /<ServiceName>/), read-only."""

    def get(self, name: str) -> str:
        """The secret's value; MissingSecret if it is not set (or empty)."""
        ...

    def get_optional(self, name: str) -> str | None: ...


class SecretBox(Protocol):
    """Encrypts what is stored for a connected account, bound to that account."""

    def seal(self, secret: str, account_id: str) -> str: ...

    def open(self, sealed: str, account_id: str) -> str:
        """The secret; SecretUnreadable if it was not sealed for this account."""


class EventQueue(Protocol):
    def send(self, envelope: EventEnvelope, body: str, origin: str | None = None) -> None:
        """Queue a verified event (origin: what found it, if not a webhook); raises if the
        queue did not accept it."""


class Notifier(Protocol):
    def publish(self, notification: Mapping[str, Any]) -> None: ...


class StripeGateway(Protocol):
    def create_payment_intent(
        self, account_id: str, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]: ...

    def retrieve_payment_intent(
        self, account_id: str, payment_intent_id: str
    ) -> dict[str, Any]: ...

    def cancel_payment_intent(self, account_id: str, payment_intent_id: str) -> dict[str, Any]:
        """Close the PaymentIntent; StripeRejected (payment_intent_unexpected_state) when it
        is succeeded, processing or canceled already."""

    def retrieve_charge(self, account_id: str, charge_id: str) -> dict[str, Any]: ...

    def retrieve_source(self, account_id: str, source_id: str) -> dict[str, Any]: ...

    def create_charge(
        self, account_id: str, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]: ...

    def retrieve_bank_account(
        self, account_id: str, customer_id: str, bank_account_id: str
    ) -> dict[str, Any]: ...

    def account_is_connected(self, account_id: str) -> bool:
        """Whether the platform may still act for the account (False once access is revoked)."""


class PaymentMethodStore(Protocol):
    def get(self, account_id: str, payment_method_id: str) -> SavedPaymentMethod | None: ...

    def save(
        self,
        method: SavedPaymentMethod,
        expected_version: int,
        notification: Mapping[str, Any] | None = None,
    ) -> None:
        """Write the method and queue its notification (if any) atomically; ConcurrentUpdate
        if the stored version is not expected_version (0: not stored yet)."""

    def unpublished(self, account_id: str, payment_method_id: str) -> list[Mapping[str, Any]]:
        """Notifications written with the method but not yet published, oldest first."""

    def mark_published(
        self, account_id: str, payment_method_id: str, notification_id: str
    ) -> None: ...


class EventVerifier(Protocol):
    def verify(self, raw_body: bytes, signature_header: str | None) -> dict[str, Any]:
        """The event if its signature matches one of the secrets; WebhookRejected otherwise."""


class ConnectSessions(Protocol):
    """Connect links and OAuth states, kept under the digest of their secret value."""

    def put(self, key: str, pending: Pending) -> None:
        """Store a new one; raises if the key exists."""

    def get(self, key: str) -> Pending | None: ...

    def use(self, key: str, at: int) -> bool:
        """Mark it used, once: True for the one caller that did, even under races."""


class ConnectOAuth(Protocol):
    def authorize_url(self, state: str, redirect_uri: str, email: str | None) -> str: ...

    def authorize_origin(self) -> str:
        """Scheme and host of Stripe's authorize page (for the pages' Content-Security-Policy)."""

    def exchange_code(self, code: str) -> Authorization:
        """What the code grants; StripeRejected (code invalid_grant…), StripeUnavailable."""

    def deauthorize(self, account_id: str) -> None:
        """Revoke the platform's access; quiet if it was revoked already."""


class EventFailures(Protocol):
    """Why events failed, per account and event id, kept as long as the dead-letter queue."""

    def record(
        self, account: str | None, event_id: str, event_type: str | None, reason: str
    ) -> None:
        """Count one more failure; the first reason and time are kept, the last ones replaced."""

    def get_many(
        self, keys: list[tuple[str | None, str]]
    ) -> dict[tuple[str | None, str], EventFailure]:
        """The failures recorded for these (account, event id) pairs; absent ones left out."""


class EventLog(Protocol):
    """Stripe's list of the events it recorded for an account (the last 30 days)."""

    def list_events(
        self, account_id: str, types: Sequence[str], since: int, until: int, max_pages: int
    ) -> list[dict[str, Any]] | None:
        """Events created in [since, until), any order; None if more than max_pages pages."""


class WatermarkStore(Protocol):
    def get(self, account_id: str) -> Watermark | None: ...

    def save(self, account_id: str, mark: Watermark, at: str) -> bool:
        """Write it if the stored version is still mark.version; False if another run won."""


class AccountDirectory(Protocol):
    def listings(self) -> Iterator[tuple[str, str]]:
        """(account_id, status) of every account ever connected, page by page."""


class WorkQueue(Protocol):
    def send_accounts(self, account_ids: Sequence[str]) -> None:
        """One message per account; raises if any could not be queued."""


class WebhookHealthStore(Protocol):
    """What arrived at each account's dedicated webhook URL, per hour."""

    def record(self, account_id: str, verified: bool, at: datetime) -> None:
        """Count one delivery (its signature verified or not); one cheap write."""

    def recent(self, account_id: str) -> list[HourBucket]:
        """The account's newest hourly buckets, at least those of the last 24 hours."""


class WebhookEndpoints(Protocol):
    """Webhook endpoints on Stripe: the platform's own, or one connected account's."""

    def list_webhook_endpoints(self) -> list[dict[str, Any]]: ...

    def create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]: ...

    def update_webhook_endpoint(
        self, endpoint_id: str, params: dict[str, Any]
    ) -> dict[str, Any]: ...
