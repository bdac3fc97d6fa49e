"""Each connected account's own webhook endpoint: its dedicated URL, event types and secrets."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.accounts import ConnectedAccount, masked
from chalicelib.domain.errors import NotFound
from chalicelib.domain.webhooks import webhook_overview
from chalicelib.ports import AccountStore


def account_webhook(accounts: AccountStore, account_id: str, base_url: str) -> dict[str, Any]:
    return _view(_account(accounts, account_id), base_url)


def set_signing_secrets(
    accounts: AccountStore, account_id: str, secrets: tuple[str, ...], base_url: str
) -> dict[str, Any]:
    account = accounts.set_webhook_secrets(account_id, secrets)
    if account is None:
        raise NotFound(f"no connected account {account_id}")
    return _view(account, base_url)


def _account(accounts: AccountStore, account_id: str) -> ConnectedAccount:
    account = accounts.get(account_id)
    if account is None:
        raise NotFound(f"no connected account {account_id}")
    return account


def _view(account: ConnectedAccount, base_url: str) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "company_id": account.company_id,
        "status": str(account.status),
        **webhook_overview(base_url, account.account_id),
        "signing_secrets": [masked(s) for s in account.webhook_secrets],
    }
