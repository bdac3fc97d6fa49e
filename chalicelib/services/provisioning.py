"""Keeps the platform's Connect webhook endpoint on Stripe exactly as the service needs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES


class WebhookEndpoints(Protocol):
    def list_webhook_endpoints(self) -> list[dict[str, Any]]: ...

    def create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]: ...

    def update_webhook_endpoint(
        self, endpoint_id: str, params: dict[str, Any]
    ) -> dict[str, Any]: ...


class EndpointMismatch(Exception):
    """An endpoint exists for the URL but cannot be brought in line by an update."""


@dataclass(frozen=True)
class Provisioned:
    endpoint_id: str
    action: str  # "created", "updated" or "unchanged"
    secret: str | None  # Stripe shows the signing secret only when it creates the endpoint


def ensure_connect_endpoint(stripe: WebhookEndpoints, url: str, api_version: str) -> Provisioned:
    """Create or update the endpoint for `url`; running it again changes nothing."""
    wanted = sorted(HANDLED_EVENT_TYPES)
    existing = [e for e in stripe.list_webhook_endpoints() if e.get("url") == url]
    if not existing:
        created = stripe.create_webhook_endpoint(
            {
                "url": url,
                "connect": True,
                "enabled_events": wanted,
                "api_version": api_version,
                "description": "stripe-bridge: payment repair for connected accounts",
            }
        )
        return Provisioned(created["id"], "created", created.get("secret"))
    endpoint = existing[0]
    if endpoint.get("api_version") not in (None, api_version):
        # Stripe cannot change an endpoint's API version in place.
        raise EndpointMismatch(
            f"endpoint {endpoint['id']} for {url} is pinned to API version "
            f"{endpoint['api_version']}, not {api_version}; delete it in Stripe and run again"
        )
    if (
        sorted(endpoint.get("enabled_events") or []) == wanted
        and endpoint.get("status") != "disabled"
    ):
        return Provisioned(endpoint["id"], "unchanged", None)
    stripe.update_webhook_endpoint(endpoint["id"], {"enabled_events": wanted, "disabled": False})
    return Provisioned(endpoint["id"], "updated", None)
