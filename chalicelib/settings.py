"""Typed settings, read once from the environment that .chalice/config.json sets per stage."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from chalicelib.domain.sweep import DEFAULT_BACKOFF_SECONDS, parse_backoff

DEFAULT_SERVICE_NAME = "stripe-bridge"
# The stages that run in AWS (.chalice/config.json); a test keeps this list in step with it.
DEPLOYED_STAGES = frozenset({"dev", "prod"})
# "true" where the SQS event source mappings have FunctionResponseTypes ReportBatchItemFailures.
REPORT_BATCH_ITEM_FAILURES = "SQS_REPORT_BATCH_ITEM_FAILURES"
# An SQS event source mapping accepts 2 to 1000.
CONSUMER_CONCURRENCY_RANGE = (2, 1000)
# A DNS host name (RFC 1123): a placeholder such as API_ID is not one.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}\Z)({_LABEL}\.)*{_LABEL}")


class SettingsError(Exception):
    """The stage is configured wrongly; the message says which variable."""


@dataclass(frozen=True)
class Settings:
    service_name: str
    stage: str
    livemode: bool
    secrets_path: str
    stripe_api_base: str | None
    public_base_url: str | None
    events_queue_url: str | None
    stripe_timeout_seconds: float
    stripe_max_retries: int
    idempotency_expiry_seconds: int
    connect_link_ttl_seconds: int = 15 * 60
    # An admin link opens the webhook overview for this long (its forms included).
    admin_link_ttl_seconds: int = 30 * 60
    # Long enough for an admin who creates a Stripe account on the way.
    connect_state_ttl_seconds: int = 60 * 60
    # The KMS key that seals the secrets stored for connected accounts.
    secrets_key_id: str = ""
    recovery_queue_url: str | None = None
    # Lists again this far back of the watermark: Stripe's list may show an event late.
    recovery_overlap_seconds: int = 300
    # Spacing of one recovery worker's Stripe calls: 4 workers x 4 calls/s = 16 reads/s.
    recovery_min_call_interval_seconds: float = 0.25
    recovery_max_pages: int = 10
    # Seconds from a change (then from each check) to the next check; the last step repeats.
    sweep_backoff_seconds: tuple[int, ...] = DEFAULT_BACKOFF_SECONDS
    sweep_page_size: int = 25
    # Set with the Parameters and Secrets Lambda Extension's layer: secrets are read through it.
    parameters_extension_port: int | None = None
    # The SQS triggers have ReportBatchItemFailures (set by the SnapStart merge template only).
    reports_batch_item_failures: bool = False

    # Resource names follow infra/template.yaml: "<ServiceName>-<what>".
    @cached_property
    def accounts_table(self) -> str:
        return f"{self.service_name}-accounts"

    @cached_property
    def payments_table(self) -> str:
        return f"{self.service_name}-payments"

    @cached_property
    def payment_history_table(self) -> str:
        return f"{self.service_name}-payment-history"

    @cached_property
    def payment_methods_table(self) -> str:
        return f"{self.service_name}-payment-methods"

    @cached_property
    def idempotency_table(self) -> str:
        return f"{self.service_name}-idempotency"

    @cached_property
    def event_failures_table(self) -> str:
        return f"{self.service_name}-event-failures"

    @cached_property
    def events_queue_name(self) -> str:
        return events_queue_name(self.service_name)

    @cached_property
    def notifications_bus(self) -> str:
        return f"{self.service_name}-notifications"

    @cached_property
    def connect_sessions_table(self) -> str:
        return f"{self.service_name}-connect-sessions"

    @cached_property
    def webhook_health_table(self) -> str:
        return f"{self.service_name}-webhook-health"

    @cached_property
    def recovery_table(self) -> str:
        return f"{self.service_name}-recovery"

    @cached_property
    def recovery_queue_name(self) -> str:
        return f"{self.service_name}-recovery"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        service_name = env.get("SERVICE_NAME", DEFAULT_SERVICE_NAME)
        stage = env.get("STAGE", "dev")
        return cls(
            service_name=service_name,
            stage=stage,
            livemode=_flag(env, "LIVEMODE", False),
            secrets_path=env.get("SECRETS_PATH", f"/{service_name}"),
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            public_base_url=_public_base_url(env, stage),
            events_queue_url=env.get("EVENTS_QUEUE_URL") or None,
            stripe_timeout_seconds=_number(env, "STRIPE_TIMEOUT_SECONDS", 8.0),
            stripe_max_retries=int(_number(env, "STRIPE_MAX_RETRIES", 2)),
            # Stripe retries a webhook for up to 3 days; remember event ids for longer.
            idempotency_expiry_seconds=int(
                _number(env, "IDEMPOTENCY_EXPIRY_SECONDS", 7 * 24 * 3600)
            ),
            connect_link_ttl_seconds=int(60 * _number(env, "CONNECT_LINK_TTL_MINUTES", 15)),
            connect_state_ttl_seconds=int(60 * _number(env, "CONNECT_STATE_TTL_MINUTES", 60)),
            admin_link_ttl_seconds=int(60 * _number(env, "ADMIN_LINK_TTL_MINUTES", 30)),
            secrets_key_id=env.get("SECRETS_KEY_ID") or f"alias/{service_name}-secrets",
            recovery_queue_url=env.get("RECOVERY_QUEUE_URL") or None,
            recovery_overlap_seconds=int(_number(env, "RECOVERY_OVERLAP_SECONDS", 300)),
            recovery_min_call_interval_seconds=_number(
                env, "RECOVERY_MIN_CALL_INTERVAL_SECONDS", 0.25
            ),
            recovery_max_pages=max(1, int(_number(env, "RECOVERY_MAX_PAGES", 10))),
            sweep_backoff_seconds=_backoff(env, "SWEEP_BACKOFF_SECONDS"),
            sweep_page_size=max(1, min(100, int(_number(env, "SWEEP_PAGE_SIZE", 25)))),
            parameters_extension_port=_port(env, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"),
            reports_batch_item_failures=_flag(env, REPORT_BATCH_ITEM_FAILURES, False),
        )


def events_queue_name(service_name: str) -> str:
    return f"{service_name}-events"


@dataclass(frozen=True)
class StageBinding:
    """What app.py hands Chalice to build a stage: the API's name and the consumer's trigger.

    Chalice sets the variables of the stage it deploys or packages before it imports app.py,
    so these follow `--stage S` (its own API name and queue), never the deploying shell.
    """

    service_name: str
    events_queue: str
    consumer_max_concurrency: int
    recovery_queue: str = f"{DEFAULT_SERVICE_NAME}-recovery"
    recovery_schedule: str = "rate(15 minutes)"
    # Workers x RECOVERY_MIN_CALL_INTERVAL_SECONDS bound the Stripe reads of recovery (16/s).
    recovery_max_concurrency: int = 4
    sweep_schedule: str = "rate(5 minutes)"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StageBinding:
        env = dict(os.environ if env is None else env)
        service_name = env.get("SERVICE_NAME", DEFAULT_SERVICE_NAME)
        low, high = CONSUMER_CONCURRENCY_RANGE
        concurrency = _number(env, "CONSUMER_MAX_CONCURRENCY", low)
        if not (low <= concurrency <= high and concurrency == int(concurrency)):
            raise SettingsError(
                f"CONSUMER_MAX_CONCURRENCY must be a whole number from {low} to {high}"
            )
        workers = _number(env, "RECOVERY_MAX_CONCURRENCY", 4)
        if not (low <= workers <= high and workers == int(workers)):
            raise SettingsError(
                f"RECOVERY_MAX_CONCURRENCY must be a whole number from {low} to {high}"
            )
        return cls(
            service_name=service_name,
            events_queue=events_queue_name(service_name),
            consumer_max_concurrency=int(concurrency),
            recovery_queue=f"{service_name}-recovery",
            recovery_schedule=env.get("RECOVERY_SCHEDULE") or "rate(15 minutes)",
            recovery_max_concurrency=int(workers),
            sweep_schedule=env.get("SWEEP_SCHEDULE") or "rate(5 minutes)",
        )


def _public_base_url(env: dict[str, str], stage: str) -> str | None:
    raw = (env.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    if not raw:
        if stage in DEPLOYED_STAGES:
            # Without it, links and callbacks would be built from the request's Host header,
            # which whoever sends the request chooses.
            raise SettingsError(
                f"PUBLIC_BASE_URL is required in stage {stage}: the service's public https URL "
                "(a custom domain, or https://<api-id>.execute-api.<region>.amazonaws.com/api)"
            )
        return None
    parts = urlsplit(raw)
    # Plain http only for the local stack on loopback.
    schemes = ("https",) if stage in DEPLOYED_STAGES else ("https", "http")
    if (
        parts.scheme not in schemes
        or not _HOST_NAME.fullmatch(parts.hostname or "")
        or parts.query
        or parts.fragment
    ):
        raise SettingsError(
            f"PUBLIC_BASE_URL must be the service's public {' or '.join(schemes)} URL with a "
            f"real host name and no query (in stage {stage}), not {raw!r}"
        )
    return raw


def _backoff(env: dict[str, str], name: str) -> tuple[int, ...]:
    try:
        return parse_backoff(env.get(name))
    except ValueError as error:
        raise SettingsError(f"{name}: {error}") from None


def _port(env: dict[str, str], name: str) -> int | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{name} must be a port number from 1 to 65535, not {raw!r}")
    return int(raw)


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _number(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value
