"""Connected Stripe accounts: which company each belongs to and whether it is still connected."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AccountStatus(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class ConnectedAccount:
    account_id: str
    company_id: str
    livemode: bool
    connected_at: str
    status: AccountStatus = AccountStatus.CONNECTED
    scope: str = "read_write"
    connected_by: str | None = None
    disconnected_at: str | None = None
    # Signing secrets of the account's own webhook endpoint (its dedicated URL), if it has one;
    # several while a secret is being rolled.
    webhook_secrets: tuple[str, ...] = ()

    @property
    def is_connected(self) -> bool:
        return self.status is AccountStatus.CONNECTED
