"""Typed settings, read once from the environment that .chalice/config.json sets per stage."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

DEFAULT_SERVICE_NAME = "stripe-bridge"


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
    # Long enough for an admin who creates a Stripe account on the way.
    connect_state_ttl_seconds: int = 60 * 60
    recovery_queue_url: str | None = None
    # Lists again this far back of the watermark: Stripe's list may show an event late.
    recovery_overlap_seconds: int = 300
    # Spacing of one recovery worker's Stripe calls: 4 workers x 4 calls/s = 16 reads/s.
    recovery_min_call_interval_seconds: float = 0.25
    recovery_max_pages: int = 10

    # Resource names follow infra/template.yaml: "<ServiceName>-<what>".
    @cached_property
    def accounts_table(self) -> str:
        return f"{self.service_name}-accounts"

    @cached_property
    def payments_table(self) -> str:
        return f"{self.service_name}-payments"

    @cached_property
    def payment_methods_table(self) -> str:
        return f"{self.service_name}-payment-methods"

    @cached_property
    def idempotency_table(self) -> str:
        return f"{self.service_name}-idempotency"

    @cached_property
    def events_queue_name(self) -> str:
        return f"{self.service_name}-events"

    @cached_property
    def notifications_bus(self) -> str:
        return f"{self.service_name}-notifications"

    @cached_property
    def connect_sessions_table(self) -> str:
        return f"{self.service_name}-connect-sessions"

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
        return cls(
            service_name=service_name,
            stage=env.get("STAGE", "dev"),
            livemode=_flag(env, "LIVEMODE", False),
            secrets_path=env.get("SECRETS_PATH", f"/{service_name}"),
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            events_queue_url=env.get("EVENTS_QUEUE_URL") or None,
            stripe_timeout_seconds=_number(env, "STRIPE_TIMEOUT_SECONDS", 8.0),
            stripe_max_retries=int(_number(env, "STRIPE_MAX_RETRIES", 2)),
            # Stripe retries a webhook for up to 3 days; remember event ids for longer.
            idempotency_expiry_seconds=int(
                _number(env, "IDEMPOTENCY_EXPIRY_SECONDS", 7 * 24 * 3600)
            ),
            connect_link_ttl_seconds=int(60 * _number(env, "CONNECT_LINK_TTL_MINUTES", 15)),
            connect_state_ttl_seconds=int(60 * _number(env, "CONNECT_STATE_TTL_MINUTES", 60)),
            recovery_queue_url=env.get("RECOVERY_QUEUE_URL") or None,
            recovery_overlap_seconds=int(_number(env, "RECOVERY_OVERLAP_SECONDS", 300)),
            recovery_min_call_interval_seconds=_number(
                env, "RECOVERY_MIN_CALL_INTERVAL_SECONDS", 0.25
            ),
            recovery_max_pages=max(1, int(_number(env, "RECOVERY_MAX_PAGES", 10))),
        )


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
