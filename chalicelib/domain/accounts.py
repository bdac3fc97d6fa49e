"""Connected Stripe accounts: which company each belongs to, whether it is its active one, and
what the platform is told when that changes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, overload

from chalicelib.domain.errors import InvalidInput


class AccountStatus(StrEnum):
    CONNECTED = "connected"  # the company's active account: new payments go to it
    # Another account of the company took its place; the platform keeps access, so the
    # payments already started on it are still repaired.
    REPLACED = "replaced"
    DISCONNECTED = "disconnected"
    # Imported by a migration: the account is the company's, but its admin has not authorised
    # the platform yet, so nothing can be read or done as it (no payments, no events acted on).
    PENDING_AUTHORIZATION = "pending_authorization"


class AccountNotification(StrEnum):
    """The detail-types of what the platform is told about its companies' accounts."""

    CONNECTED = "account.connected"
    REPLACED = "account.replaced"
    DISCONNECTED = "account.disconnected"
    PENDING_AUTHORIZATION = "account.pending_authorization"


class AccountPendingAuthorization(Exception):
    """An event for an account its admin has not authorised yet: acknowledged, not acted on."""


@dataclass(frozen=True)
class StatusChange:
    """One step of an account's history: the status it took, and when."""

    status: str
    at: str


@dataclass(frozen=True)
class ConnectedAccount:
    account_id: str
    company_id: str
    livemode: bool
    connected_at: str | None  # None until its admin authorised it (an imported account)
    status: AccountStatus = AccountStatus.CONNECTED
    scope: str = "read_write"
    connected_by: str | None = None
    disconnected_at: str | None = None
    # Signing secrets of the account's own webhook endpoint (its dedicated URL), if it has one;
    # several while a secret is being rolled. Out of the repr: an account may be logged.
    webhook_secrets: Sequence[str] = field(default=(), repr=False)
    replaced_at: str | None = None
    replaced_by: str | None = None  # the account that took its place
    version: int = 0  # grows with each change the platform is told of
    imported_at: str | None = None  # when a migration created it, pending authorisation
    email: str | None = None  # its admin's, as the migration gave it (prefilled at Stripe)
    history: tuple[StatusChange, ...] = ()  # oldest first; empty for accounts stored before

    @property
    def has_access(self) -> bool:
        """Whether the platform still has access to the account (and acts on its events)."""
        return self.status in (AccountStatus.CONNECTED, AccountStatus.REPLACED)

    @property
    def is_pending(self) -> bool:
        """Imported, waiting for its admin to authorise the platform at Stripe."""
        return self.status is AccountStatus.PENDING_AUTHORIZATION

    @property
    def known_since(self) -> str:
        """When the service first had the account: its import, else its first connection."""
        return self.imported_at or self.connected_at or ""

    @property
    def is_active(self) -> bool:
        """Whether it is the company's account for new payments (at most one per company)."""
        return self.status is AccountStatus.CONNECTED


def _step(account: ConnectedAccount, status: AccountStatus, at: str) -> tuple[StatusChange, ...]:
    return (*account.history, StatusChange(str(status), at))


def pending_authorization(
    account_id: str, company_id: str, livemode: bool, email: str | None, at: str
) -> ConnectedAccount:
    """An account a migration brought over, waiting for its admin's authorisation."""
    account = ConnectedAccount(
        account_id,
        company_id,
        livemode,
        connected_at=None,
        status=AccountStatus.PENDING_AUTHORIZATION,
        imported_at=at,
        email=email,
        version=1,
    )
    return replace(account, history=_step(account, account.status, at))


def connected(account: ConnectedAccount, before: ConnectedAccount | None) -> ConnectedAccount:
    """The account as the company's active one; a known account keeps its secrets and history."""
    at = account.connected_at or ""
    if before is None:
        return replace(
            account,
            status=AccountStatus.CONNECTED,
            version=1,
            history=_step(account, AccountStatus.CONNECTED, at),
        )
    return replace(
        account,
        webhook_secrets=before.webhook_secrets,
        version=before.version + 1,
        status=AccountStatus.CONNECTED,
        disconnected_at=None,
        replaced_at=None,
        replaced_by=None,
        imported_at=before.imported_at,
        email=before.email,
        history=_step(before, AccountStatus.CONNECTED, at),
    )


def replaced(account: ConnectedAccount, by: str, at: str) -> ConnectedAccount:
    return replace(
        account,
        status=AccountStatus.REPLACED,
        replaced_at=at,
        replaced_by=by,
        version=account.version + 1,
        history=_step(account, AccountStatus.REPLACED, at),
    )


def disconnected(account: ConnectedAccount, at: str) -> ConnectedAccount:
    return replace(
        account,
        status=AccountStatus.DISCONNECTED,
        disconnected_at=at,
        version=account.version + 1,
        history=_step(account, AccountStatus.DISCONNECTED, at),
    )


def account_notification(
    account: ConnectedAccount, kind: AccountNotification, occurred_at: str
) -> dict[str, Any]:
    """What the platform is told; its id is stable across re-sends (one per account version)."""
    return {
        "notification_id": f"{account.account_id}.v{account.version}",
        "type": str(kind),
        "version": account.version,
        "account_id": account.account_id,
        "company_id": account.company_id,
        "status": str(account.status),
        "livemode": account.livemode,
        "connected_at": account.connected_at,
        "connected_by": account.connected_by,
        "disconnected_at": account.disconnected_at,
        "replaced_by": account.replaced_by,
        "imported_at": account.imported_at,
        "occurred_at": occurred_at,
    }


@dataclass(frozen=True)
class AccountChange:
    """One account written as `account`, if it is still at `expected_version`, with what the
    platform is to be told of it (kept in the same write, published afterwards)."""

    account: ConnectedAccount
    expected_version: int
    notification: Mapping[str, Any] | None


@dataclass(frozen=True)
class ActiveChange:
    """The company's active account moves from `expected` to `active` (None: no account)."""

    company_id: str
    expected: str | None
    active: str | None


class SecretUnreadable(Exception):
    """A stored secret could not be decrypted for its account (moved, or its key is gone)."""


class SealedSecrets(Sequence[str]):
    """Secrets stored encrypted, opened only when first used (never shown in a repr)."""

    def __init__(self, sealed: Sequence[str], open_one: Callable[[str], str]) -> None:
        self.sealed = tuple(sealed)
        self._open_one = open_one
        self._opened: tuple[str, ...] | None = None

    def _plain(self) -> tuple[str, ...]:
        if self._opened is None:
            opened = []
            for sealed in self.sealed:
                try:
                    opened.append(self._open_one(sealed))
                except SecretUnreadable:
                    continue  # one that is not this account's verifies nothing
            self._opened = tuple(opened)
        return self._opened

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._plain()[index]

    def __len__(self) -> int:
        return len(self.sealed)

    def __iter__(self) -> Iterator[str]:
        return iter(self._plain())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.sealed)

    def __repr__(self) -> str:
        return f"SealedSecrets({len(self.sealed)} sealed)"


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
