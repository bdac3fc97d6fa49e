"""Whether an account's own webhook endpoint works: what arrived at its dedicated URL, and what
Stripe says about the endpoint. Pure rules; the facts come from the health store and Stripe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES

# Deliveries are counted per hour; a bucket is kept this long, then expires by TTL.
HEALTH_RETENTION = timedelta(days=30)
REFUSED_WINDOW_HOURS = 24
# Endpoints the service creates on a connected account carry this metadata key, valued with
# the service's name, so that one edited by hand (another URL) is still recognised as ours.
ENDPOINT_MARKER = "stripe_bridge"


def hour_of(at: datetime) -> str:
    """The bucket a delivery at `at` is counted in: its UTC hour, sortable as text."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def window_hours(now: datetime, hours: int = REFUSED_WINDOW_HOURS) -> list[str]:
    """The buckets of the last `hours` hours, the current one first."""
    return [hour_of(now - timedelta(hours=back)) for back in range(hours)]


@dataclass(frozen=True)
class HourBucket:
    """What arrived at one account's dedicated URL in one hour."""

    hour: str
    verified: int = 0
    refused: int = 0
    last_at: str | None = None
    last_verified: bool | None = None
    last_verified_at: str | None = None


@dataclass(frozen=True)
class Deliveries:
    """What arrived lately: the last delivery, and how many were refused in the last 24 h."""

    last_at: str | None
    last_verified: bool | None
    last_verified_at: str | None
    refused_last_24h: int


def deliveries_from(buckets: Sequence[HourBucket], now: datetime) -> Deliveries:
    """Sum the buckets (any order) the health store kept for an account."""
    recent = set(window_hours(now))
    newest = max(buckets, key=lambda b: (b.last_at or "", b.hour), default=None)
    verified_at = max((b.last_verified_at for b in buckets if b.last_verified_at), default=None)
    return Deliveries(
        last_at=newest.last_at if newest else None,
        last_verified=newest.last_verified if newest else None,
        last_verified_at=verified_at,
        refused_last_24h=sum(b.refused for b in buckets if b.hour in recent),
    )


@dataclass(frozen=True)
class EndpointCheck:
    """The account's endpoint as Stripe shows it to the platform acting as the account."""

    checked: bool  # False: Stripe could not be asked (no access, unavailable)
    exists: bool = False
    endpoint_id: str | None = None
    url_matches: bool = False
    events_match: bool = False
    enabled: bool = False
    api_version: str | None = None
    error: str | None = None


def find_endpoint(
    endpoints: Sequence[Mapping[str, Any]], url: str, marker: str
) -> Mapping[str, Any] | None:
    """Ours among an account's endpoints: the one the service marked, else one at our URL."""
    marked = [e for e in endpoints if (e.get("metadata") or {}).get(ENDPOINT_MARKER) == marker]
    at_url = [e for e in endpoints if e.get("url") == url]
    # An endpoint at our URL that is enabled beats a disabled one the admin left behind.
    ranked = sorted(marked or at_url, key=lambda e: e.get("status") != "enabled")
    return ranked[0] if ranked else None


def check_endpoint(endpoint: Mapping[str, Any] | None, url: str) -> EndpointCheck:
    if endpoint is None:
        return EndpointCheck(checked=True)
    return EndpointCheck(
        checked=True,
        exists=True,
        endpoint_id=endpoint.get("id"),
        url_matches=endpoint.get("url") == url,
        events_match=sorted(endpoint.get("enabled_events") or []) == sorted(HANDLED_EVENT_TYPES),
        enabled=endpoint.get("status") == "enabled",
        api_version=endpoint.get("api_version"),
    )


class Problem(StrEnum):
    """What stands between an account and a working webhook, in the order an admin fixes it."""

    NOT_CONNECTED = "not_connected"  # the platform lost access: nothing to check
    ENDPOINT_UNCHECKED = "endpoint_unchecked"  # Stripe could not be asked
    ENDPOINT_MISSING = "endpoint_missing"
    ENDPOINT_WRONG_URL = "endpoint_wrong_url"
    ENDPOINT_WRONG_EVENTS = "endpoint_wrong_events"
    ENDPOINT_DISABLED = "endpoint_disabled"
    NO_SIGNING_SECRET = "no_signing_secret"
    LAST_DELIVERY_REFUSED = "last_delivery_refused"  # commonly: a secret of another endpoint
    NO_DELIVERY_YET = "no_delivery_yet"


@dataclass(frozen=True)
class WebhookHealth:
    deliveries: Deliveries
    endpoint: EndpointCheck | None  # None: not asked (the account is disconnected)
    signing_secrets: Sequence[str] = field(default=())  # masked
    problems: tuple[Problem, ...] = ()

    @property
    def healthy(self) -> bool:
        return not self.problems


def assess(
    deliveries: Deliveries,
    endpoint: EndpointCheck | None,
    masked_secrets: Sequence[str],
    has_access: bool,
) -> WebhookHealth:
    problems: list[Problem] = []
    if not has_access:
        problems.append(Problem.NOT_CONNECTED)
    elif endpoint is None or not endpoint.checked:
        problems.append(Problem.ENDPOINT_UNCHECKED)
    elif not endpoint.exists:
        problems.append(Problem.ENDPOINT_MISSING)
    else:
        if not endpoint.url_matches:
            problems.append(Problem.ENDPOINT_WRONG_URL)
        if not endpoint.events_match:
            problems.append(Problem.ENDPOINT_WRONG_EVENTS)
        if not endpoint.enabled:
            problems.append(Problem.ENDPOINT_DISABLED)
    if not masked_secrets:
        problems.append(Problem.NO_SIGNING_SECRET)
    if deliveries.last_verified is False:
        problems.append(Problem.LAST_DELIVERY_REFUSED)
    elif deliveries.last_at is None:
        problems.append(Problem.NO_DELIVERY_YET)
    return WebhookHealth(deliveries, endpoint, tuple(masked_secrets), tuple(problems))


def health_view(health: WebhookHealth) -> dict[str, Any]:
    """The JSON the platform API shows of an account's webhook health."""
    endpoint = health.endpoint
    return {
        "healthy": health.healthy,
        "problems": [str(p) for p in health.problems],
        "signing_secrets": list(health.signing_secrets),
        "last_event_at": health.deliveries.last_at,
        "last_event_verified": health.deliveries.last_verified,
        "last_verified_event_at": health.deliveries.last_verified_at,
        "refused_last_24h": health.deliveries.refused_last_24h,
        "endpoint": None
        if endpoint is None
        else {
            "checked": endpoint.checked,
            "exists": endpoint.exists,
            "id": endpoint.endpoint_id,
            "url_matches": endpoint.url_matches,
            "events_match": endpoint.events_match,
            "enabled": endpoint.enabled,
            "api_version": endpoint.api_version,
            "error": endpoint.error,
        },
    }
