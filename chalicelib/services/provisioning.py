"""Keeps the service's webhook endpoints on Stripe exactly as it needs them: the platform's
Connect endpoint, and each connected account's own endpoint at its dedicated URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.webhook_health import ENDPOINT_MARKER, find_endpoint
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from chalicelib.ports import WebhookEndpoints

__all__ = [
    "EndpointMismatch",
    "Provisioned",
    "WebhookEndpoints",
    "ensure_account_endpoint",
    "ensure_connect_endpoint",
]


class EndpointMismatch(Exception):
    """An endpoint exists for the URL but cannot be brought in line by an update."""


@dataclass(frozen=True)
class Provisioned:
    endpoint_id: str
    action: str  # "created", "updated" or "unchanged"
    secret: str | None  # Stripe shows the signing secret only when it creates the endpoint


def ensure_connect_endpoint(stripe: WebhookEndpoints, url: str, api_version: str) -> Provisioned:
    """Create or update the platform's endpoint for `url`; running it again changes nothing."""
    existing = [e for e in stripe.list_webhook_endpoints() if e.get("url") == url]
    return _ensure(
        stripe,
        existing[0] if existing else None,
        url,
        api_version,
        {"connect": True, "description": "stripe-bridge: payment repair for connected accounts"},
    )


def ensure_account_endpoint(
    stripe: WebhookEndpoints, url: str, api_version: str, service_name: str
) -> Provisioned:
    """Create or bring back in line a connected account's own endpoint (`stripe` acts as the
    account). Ours is the one the service marked, else one at `url`; an admin's edits (URL,
    events, disabled) are undone, the admin's other endpoints left alone."""
    found = find_endpoint(stripe.list_webhook_endpoints(), url, service_name)
    return _ensure(
        stripe,
        found,
        url,
        api_version,
        {
            "description": "stripe-bridge: payments of the invoicing platform",
            "metadata": {ENDPOINT_MARKER: service_name},
        },
    )


def _ensure(
    stripe: WebhookEndpoints,
    endpoint: Mapping[str, Any] | None,
    url: str,
    api_version: str,
    create_extra: dict[str, Any],
) -> Provisioned:
    wanted = sorted(HANDLED_EVENT_TYPES)
    if endpoint is None:
        created = stripe.create_webhook_endpoint(
            {"url": url, "enabled_events": wanted, "api_version": api_version, **create_extra}
        )
        return Provisioned(created["id"], "created", created.get("secret"))
    if endpoint.get("api_version") not in (None, api_version):
        # Stripe cannot change an endpoint's API version in place.
        raise EndpointMismatch(
            f"endpoint {endpoint['id']} for {url} is pinned to API version "
            f"{endpoint['api_version']}, not {api_version}; delete it in Stripe and run again"
        )
    if (
        endpoint.get("url") == url
        and sorted(endpoint.get("enabled_events") or []) == wanted
        and endpoint.get("status") != "disabled"
    ):
        return Provisioned(endpoint["id"], "unchanged", None)
    stripe.update_webhook_endpoint(
        endpoint["id"], {"url": url, "enabled_events": wanted, "disabled": False}
    )
    return Provisioned(endpoint["id"], "updated", None)
