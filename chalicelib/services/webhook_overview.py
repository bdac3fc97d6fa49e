"""A company's webhook overview: per account its dedicated URL, event types and health, and the
two things an admin may do there: have the endpoint created, or give its signing secret."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.accounts import MAX_SIGNING_SECRETS, ConnectedAccount, masked
from chalicelib.domain.errors import NotFound, StripeRejected, StripeUnavailable
from chalicelib.domain.webhook_health import (
    EndpointCheck,
    WebhookHealth,
    assess,
    check_endpoint,
    deliveries_from,
    find_endpoint,
)
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES, dedicated_webhook_url
from chalicelib.observability import logger
from chalicelib.ports import AccountStore, WebhookEndpoints, WebhookHealthStore
from chalicelib.services.provisioning import Provisioned, ensure_account_endpoint


@dataclass(frozen=True)
class AccountOverview:
    account: ConnectedAccount
    url: str
    enabled_events: Sequence[str]
    health: WebhookHealth


@dataclass
class WebhookOverview:
    accounts: AccountStore
    health_store: WebhookHealthStore
    # The endpoints of one connected account, read and written as that account.
    endpoints_of: Callable[[str], WebhookEndpoints]
    service_name: str
    api_version: str
    clock: Callable[[], datetime]

    def of_accounts(
        self, accounts: Sequence[ConnectedAccount], base_url: str
    ) -> list[AccountOverview]:
        return [self.of_account(account, base_url) for account in accounts]

    def of_account(self, account: ConnectedAccount, base_url: str) -> AccountOverview:
        url = dedicated_webhook_url(base_url, account.account_id)
        deliveries = deliveries_from(self.health_store.recent(account.account_id), self.clock())
        endpoint = self._check(account, url) if account.has_access else None
        secrets = [masked(s) for s in account.webhook_secrets]
        health = assess(deliveries, endpoint, secrets, account.has_access)
        return AccountOverview(account, url, list(HANDLED_EVENT_TYPES), health)

    def _check(self, account: ConnectedAccount, url: str) -> EndpointCheck:
        try:
            endpoints = self.endpoints_of(account.account_id).list_webhook_endpoints()
        except StripeUnavailable:
            return EndpointCheck(checked=False, error="stripe_unavailable")
        except StripeRejected as rejected:
            return EndpointCheck(checked=False, error=rejected.code or "stripe_rejected")
        return check_endpoint(find_endpoint(endpoints, url, self.service_name), url)

    def account_of(self, company_id: str, account_id: str) -> ConnectedAccount:
        account = self.accounts.get(account_id)
        if account is None or account.company_id != company_id:
            raise NotFound(f"company {company_id} has no Stripe account {account_id}")
        return account

    def create_endpoint(self, company_id: str, account_id: str, base_url: str) -> Provisioned:
        """Create the account's endpoint, or bring it back in line; a new one's secret is
        stored first, the secrets stored before kept behind it (the admin copies nothing)."""
        account = self.account_of(company_id, account_id)
        if not account.has_access:
            raise StripeRejected("the platform has no access to this account", "not_connected")
        url = dedicated_webhook_url(base_url, account_id)
        provisioned = ensure_account_endpoint(
            self.endpoints_of(account_id), url, self.api_version, self.service_name
        )
        if provisioned.secret is not None:
            kept = [s for s in account.webhook_secrets if s != provisioned.secret]
            secrets = (provisioned.secret, *kept)[:MAX_SIGNING_SECRETS]
            self.accounts.set_webhook_secrets(account_id, secrets)
        logger.info(
            "account webhook endpoint provisioned",
            extra={"account": account_id, "action": provisioned.action},
        )
        return provisioned

    def set_secret(self, company_id: str, account_id: str, secret: str) -> ConnectedAccount:
        """The secret the admin pasted becomes the account's only one (as PUT …/webhook)."""
        self.account_of(company_id, account_id)
        stored = self.accounts.set_webhook_secrets(account_id, (secret,))
        if stored is None:
            raise NotFound(f"no connected account {account_id}")
        return stored
