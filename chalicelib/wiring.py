"""Builds the adapters and services once per Lambda container, lazily.

Nothing here runs at import time: a cold start pays only for what its entry point uses, and
tests can point the environment somewhere else before the first call (then call reset()).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.domain.metadata import SigningKeys
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.ports import SecretBox, Secrets, WebhookHealthStore
    from chalicelib.services.accounts import Accounts
    from chalicelib.services.admin_links import AdminLinks
    from chalicelib.services.connect import ConnectService
    from chalicelib.services.payments import PaymentsService
    from chalicelib.services.repair import Repairer
    from chalicelib.services.sweep import Sweep
    from chalicelib.services.webhook_overview import WebhookOverview

SECRET_STRIPE_KEY = "stripe-secret-key"
SECRET_PLATFORM_TOKEN = "platform-api-token"
SECRET_WEBHOOK_SIGNING = "webhook-signing-secrets"
SECRET_CLIENT_ID = "stripe-client-id"
SECRET_METADATA_KEYS = "metadata-signing-keys"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def aws(service: str) -> Any:
    import boto3

    return boto3.client(service)


@cache
def secrets() -> Secrets:
    config = settings()
    if config.parameters_extension_port is not None:
        # The layer's extension: no SSM client (~70 ms of the webhook's cold start).
        from chalicelib.adapters.secrets import ExtensionSecrets

        return ExtensionSecrets(config.parameters_extension_port, config.secrets_path)
    from chalicelib.adapters.secrets import SsmSecrets

    return SsmSecrets(aws("ssm"), config.secrets_path)


def stripe_api() -> Any:
    return _stripe_api(secrets().get(SECRET_STRIPE_KEY), secrets().get_optional(SECRET_CLIENT_ID))


@cache
def _stripe_api(secret_key: str, client_id: str | None) -> Any:
    from chalicelib.adapters.stripe_api import StripeApi

    return StripeApi(_stripe_client(secret_key, client_id))


@cache
def _stripe_client(secret_key: str, client_id: str | None) -> Any:
    # Keyed on the secret: a rotated key builds a new client, the old one is dropped.
    from chalicelib.adapters.stripe_api import make_client

    config = settings()
    return make_client(
        secret_key,
        api_base=config.stripe_api_base,
        client_id=client_id,
        timeout_seconds=config.stripe_timeout_seconds,
        max_network_retries=config.stripe_max_retries,
    )


def connect_oauth() -> Any:
    from chalicelib.adapters.stripe_connect import StripeConnectOAuth

    client_id = secrets().get_optional(SECRET_CLIENT_ID)
    client = _stripe_client(secrets().get(SECRET_STRIPE_KEY), client_id)
    return StripeConnectOAuth(client, client_id)


@cache
def connect_sessions() -> Any:
    from chalicelib.adapters.connect_sessions import DynamoConnectSessions

    return DynamoConnectSessions(aws("dynamodb"), settings().connect_sessions_table)


def connect_service() -> ConnectService:
    from chalicelib.services.connect import ConnectService

    config = settings()
    return ConnectService(
        connect_sessions(),
        account_store(),
        connect_oauth(),
        link_ttl_seconds=config.connect_link_ttl_seconds,
        state_ttl_seconds=config.connect_state_ttl_seconds,
    )


def admin_links() -> AdminLinks:
    from chalicelib.services.admin_links import AdminLinks

    return AdminLinks(connect_sessions(), settings().admin_link_ttl_seconds)


def webhook_overview() -> WebhookOverview:
    from chalicelib.adapters.stripe_api import API_VERSION, StripeWebhookEndpoints
    from chalicelib.services.webhook_overview import WebhookOverview

    client = _stripe_client(
        secrets().get(SECRET_STRIPE_KEY), secrets().get_optional(SECRET_CLIENT_ID)
    )
    return WebhookOverview(
        account_store(),
        webhook_health(),
        lambda account_id: StripeWebhookEndpoints(client, account_id),
        settings().service_name,
        API_VERSION,
        lambda: datetime.now(UTC),
    )


def webhook_secrets() -> list[str]:
    raw = secrets().get(SECRET_WEBHOOK_SIGNING)
    return [s for s in raw.replace(",", " ").split() if s]


@cache
def payment_store() -> Any:
    from chalicelib.adapters.dynamodb import DynamoPaymentStore

    config = settings()
    return DynamoPaymentStore(
        aws("dynamodb"),
        config.payments_table,
        config.payment_history_table,
        config.sweep_backoff_seconds,
    )


@cache
def account_store() -> Accounts:
    from chalicelib.adapters.dynamodb import DynamoAccountStore
    from chalicelib.services.accounts import Accounts

    records = DynamoAccountStore(aws("dynamodb"), settings().accounts_table, secret_box())
    return Accounts(records, notifier)


@cache
def secret_box() -> SecretBox:
    from chalicelib.adapters.encryption import KmsSecretBox

    # Built on the first call only; KMS is asked only when a secret is sealed or opened.
    return KmsSecretBox(_LazyClient("kms"), settings().secrets_key_id)


class _LazyClient:
    """A boto3 client made on its first use: reading an account must not pay for a KMS client."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(aws(self._service), name)


@cache
def webhook_health() -> WebhookHealthStore:
    from chalicelib.adapters.webhook_health import DynamoWebhookHealth

    # The webhook's own DynamoDB client: a second client would add ~45 ms to its cold start.
    return DynamoWebhookHealth(aws("dynamodb"), settings().webhook_health_table)


@cache
def payment_method_store() -> Any:
    from chalicelib.adapters.payment_methods import DynamoPaymentMethodStore

    return DynamoPaymentMethodStore(aws("dynamodb"), settings().payment_methods_table)


@cache
def event_failures() -> Any:
    from chalicelib.adapters.failures import DynamoEventFailures

    return DynamoEventFailures(aws("dynamodb"), settings().event_failures_table)


@cache
def event_queue() -> Any:
    from chalicelib.adapters.messaging import SqsEventQueue

    config = settings()
    client = aws("sqs")
    url = (
        config.events_queue_url
        or client.get_queue_url(QueueName=config.events_queue_name)["QueueUrl"]
    )
    return SqsEventQueue(client, url)


@cache
def notifier() -> Any:
    from chalicelib.adapters.messaging import EventBridgeNotifier

    return EventBridgeNotifier(aws("events"), settings().notifications_bus)


def metadata_keys() -> SigningKeys:
    # Read at each use (the secrets cache is five minutes): a rotated key needs no redeploy.
    return _metadata_keys(secrets().get(SECRET_METADATA_KEYS))


@cache
def _metadata_keys(raw: str) -> SigningKeys:
    return SigningKeys.parse(raw)


def payments_service() -> PaymentsService:
    from chalicelib.services.payments import PaymentsService

    return PaymentsService(
        payment_store(), account_store(), stripe_api(), notifier(), now, metadata_keys()
    )


def repairer() -> Repairer:
    from chalicelib.services.repair import Repairer

    return Repairer(
        payment_store(),
        account_store(),
        stripe_api(),
        notifier(),
        now,
        payment_method_store(),
        metadata_keys(),
    )


def sweep() -> Sweep:
    from chalicelib.services.sweep import Sweep

    config = settings()
    return Sweep(
        payment_store(),
        payment_store(),
        account_store(),
        stripe_api(),
        notifier(),
        repairer(),
        now,
        backoff=config.sweep_backoff_seconds,
        page_size=config.sweep_page_size,
    )


@cache
def recovery_store() -> Any:
    from chalicelib.adapters.recovery_store import DynamoWatermarkStore

    return DynamoWatermarkStore(aws("dynamodb"), settings().recovery_table)


@cache
def account_directory() -> Any:
    from chalicelib.adapters.recovery_store import DynamoAccountDirectory

    return DynamoAccountDirectory(aws("dynamodb"), settings().accounts_table)


@cache
def recovery_work_queue() -> Any:
    from chalicelib.adapters.recovery_store import SqsWorkQueue

    config = settings()
    client = aws("sqs")
    url = (
        config.recovery_queue_url
        or client.get_queue_url(QueueName=config.recovery_queue_name)["QueueUrl"]
    )
    return SqsWorkQueue(client, url)


def event_log() -> Any:
    return _event_log(secrets().get(SECRET_STRIPE_KEY), secrets().get_optional(SECRET_CLIENT_ID))


@cache
def _event_log(secret_key: str, client_id: str | None) -> Any:
    # One per client, so that the spacing of calls holds across invocations of a container.
    from chalicelib.adapters.stripe_events import StripeEventLog

    return StripeEventLog(
        _stripe_client(secret_key, client_id), settings().recovery_min_call_interval_seconds
    )


def recovery() -> Any:
    import time

    from chalicelib.services.recovery import Recovery

    config = settings()
    return Recovery(
        account_store(),
        event_log(),
        recovery_store(),
        event_queue(),
        config.livemode,
        lambda: int(time.time()),
        now,
        overlap_seconds=config.recovery_overlap_seconds,
        max_pages=config.recovery_max_pages,
    )


def reset() -> None:
    """Forget every cached client and setting (tests that change the environment)."""
    for value in list(globals().values()):
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def platform_verifier() -> Any:
    return verifier_for(webhook_secrets())


def verifier_for(secrets: Any) -> Any:
    from chalicelib.adapters.stripe_api import SignatureVerifier

    return SignatureVerifier(secrets)
