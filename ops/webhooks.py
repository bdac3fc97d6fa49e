"""Provisioning of the platform's Connect webhook endpoint on Stripe, and of its secret."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters.secrets import SsmSecrets
from chalicelib.adapters.stripe_api import API_VERSION, StripeWebhookEndpoints, make_client
from chalicelib.domain.accounts import MAX_SIGNING_SECRETS
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from chalicelib.services.provisioning import Provisioned, ensure_connect_endpoint
from chalicelib.settings import Settings
from chalicelib.wiring import SECRET_STRIPE_KEY, SECRET_WEBHOOK_SIGNING


@dataclass(frozen=True)
class Report:
    provisioned: Provisioned
    url: str
    secret_stored: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "endpoint_id": self.provisioned.endpoint_id,
            "action": self.provisioned.action,
            "url": self.url,
            "enabled_events": sorted(HANDLED_EVENT_TYPES),
            "api_version": API_VERSION,
            "secret_stored": self.secret_stored,
        }


def provision_connect_endpoint(settings: Settings, secrets: SsmSecrets, url: str) -> Report:
    """Make Stripe's endpoint for `url` match the service; store a new signing secret.

    Running it again changes nothing. A new secret goes first in the stored list and the
    previous ones stay (a rolled endpoint keeps signing with both for a while).
    """
    client = make_client(
        secrets.get(SECRET_STRIPE_KEY), api_base=settings.stripe_api_base, max_network_retries=2
    )
    provisioned = ensure_connect_endpoint(StripeWebhookEndpoints(client), url, API_VERSION)
    if provisioned.secret is None:
        return Report(provisioned, url, secret_stored=False)
    existing = (secrets.get_optional(SECRET_WEBHOOK_SIGNING) or "").replace(",", " ").split()
    kept = [provisioned.secret, *[s for s in existing if s != provisioned.secret]]
    secrets.put(SECRET_WEBHOOK_SIGNING, ",".join(kept[:MAX_SIGNING_SECRETS]))
    return Report(provisioned, url, secret_stored=True)
