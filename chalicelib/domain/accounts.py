"""Connected Stripe accounts: which company each belongs to and whether it is still connected."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import InvalidInput


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


_SIGNING_SECRET = re.compile(r"whsec_[A-Za-z0-9+/=_-]{16,128}")
MAX_SIGNING_SECRETS = 3  # the current one and those still live while rolling


def parse_signing_secrets(body: Any) -> tuple[str, ...]:
    """The signing secrets of an account's own endpoint, newest first, or InvalidInput."""
    if not isinstance(body, dict) or set(body) != {"signing_secrets"}:
        raise InvalidInput("signing_secrets", 'send {"signing_secrets": ["whsec_…"]}')
    secrets = body["signing_secrets"]
    if not isinstance(secrets, list) or not 1 <= len(secrets) <= MAX_SIGNING_SECRETS:
        raise InvalidInput("signing_secrets", f"must list 1 to {MAX_SIGNING_SECRETS} secrets")
    for index, secret in enumerate(secrets):
        if not isinstance(secret, str) or not _SIGNING_SECRET.fullmatch(secret):
            raise InvalidInput(f"signing_secrets[{index}]", "is not a Stripe signing secret")
    return tuple(dict.fromkeys(secrets))


def masked(secret: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    return f"whsec_…{secret[-4:]}"
