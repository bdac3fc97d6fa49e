"""Connecting a Stripe account by OAuth: whether a link, state or callback may go on, or why not."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.errors import DomainError, InvalidInput
from chalicelib.domain.payment_requests import parse_id

LOCALES = ("en", "fr")
DEFAULT_LOCALE = "en"
_FIELDS = {"email", "connected_by", "locale", "return_url", "company_name", "replace"}
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,64}")


class Failure(StrEnum):
    """Why connecting stopped; each has its own page for the admin."""

    LINK_UNKNOWN = "link_unknown"
    LINK_USED = "link_used"
    LINK_EXPIRED = "link_expired"
    STATE_MISSING = "state_missing"
    STATE_UNKNOWN = "state_unknown"
    STATE_EXPIRED = "state_expired"
    STATE_USED = "state_used"
    STATE_MISMATCH = "state_mismatch"
    ACCESS_DENIED = "access_denied"
    AUTHORIZATION_FAILED = "authorization_failed"
    CODE_REJECTED = "code_rejected"
    STRIPE_UNAVAILABLE = "stripe_unavailable"
    ACCOUNT_TAKEN = "account_taken"
    ANOTHER_ACCOUNT_ACTIVE = "another_account_active"
    ANOTHER_ACCOUNT_PENDING = "another_account_pending"
    CSRF_FAILED = "csrf_failed"
    NOT_CONFIGURED = "not_configured"


class ConnectFailed(DomainError):
    """Connecting stopped; nothing about the account was stored."""

    def __init__(self, failure: Failure, request: ConnectRequest | None = None) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.request = request  # known once the link or state was recognised: locale, return


@dataclass(frozen=True)
class ConnectRequest:
    """What the platform asked for when it made the link; it follows the admin to the end."""

    company_id: str
    email: str | None = None
    connected_by: str | None = None
    locale: str | None = None
    return_url: str | None = None
    company_name: str | None = None  # shown to the admin; the company id if the platform gave none
    # Set by the platform only: connecting a different account then replaces the active one.
    replace: bool = False


@dataclass(frozen=True)
class Pending:
    """A connect link, or the state of an authorization under way: single use, short-lived."""

    request: ConnectRequest
    expires_at: int  # unix seconds
    used_at: int | None = None
    binding: str | None = None  # states only: the hash of the browser's cookie
    # Links only: the token the "Continue to Stripe" form must send back, and its cookie.
    csrf: str | None = None


@dataclass(frozen=True)
class Callback:
    """What Stripe's redirect back to the service carries, and the browser's cookie."""

    state: str | None
    code: str | None
    error: str | None
    cookie: str | None


@dataclass(frozen=True)
class Authorization:
    """What Stripe grants for a code (its deprecated tokens are dropped, never kept)."""

    account_id: str
    livemode: bool
    scope: str


def parse_connect_request(company_id: str, body: Any) -> ConnectRequest:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], "is not a known field")
    email = _optional_text(body, "email", 254)
    if email is not None:
        email = parse_email(email, "email")
    locale = body.get("locale")
    if locale is not None and locale not in LOCALES:
        raise InvalidInput("locale", f"must be one of {', '.join(LOCALES)}")
    replace = body.get("replace", False)
    if not isinstance(replace, bool):
        raise InvalidInput("replace", "must be true or false")
    return_url = _optional_text(body, "return_url", 2000)
    if return_url is not None:
        parts = urlsplit(return_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise InvalidInput("return_url", "must be an absolute http(s) URL")
    return ConnectRequest(
        company_id=parse_id(company_id, "company_id"),
        email=email,
        connected_by=_optional_text(body, "connected_by", 200),
        locale=locale,
        return_url=return_url,
        company_name=_optional_text(body, "company_name", 200),
        replace=replace,
    )


def parse_email(value: str, field: str) -> str:
    """An admin's email address (prefilled on Stripe's page), or InvalidInput."""
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise InvalidInput(field, "must be an email address")
    return value


def parse_account_id(value: str) -> str:
    if not _ACCOUNT_ID.fullmatch(value or ""):
        raise InvalidInput("account_id", "must be a Stripe account id (acct_…)")
    return value


def _optional_text(body: dict[str, Any], field: str, limit: int) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(field, f"must be a non-empty string of at most {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(field, "must not contain control characters")
    return value.strip()


def digest(secret: str) -> str:
    """How a link id, a state or a cookie is kept: a leaked table holds nothing usable."""
    return hashlib.sha256(secret.encode()).hexdigest()


def link_problem(link: Pending | None, now: float) -> Failure | None:
    if link is None:
        return Failure.LINK_UNKNOWN
    return _spent(link, now, Failure.LINK_USED, Failure.LINK_EXPIRED)


def _spent(pending: Pending, now: float, used: Failure, expired: Failure) -> Failure | None:
    if pending.used_at is not None:
        return used
    # The table's TTL deletes expired items days late, if at all: expiry is checked here.
    if now >= pending.expires_at:
        return expired
    return None


def state_problem(state: Pending | None, callback: Callback, now: float) -> Failure | None:
    """Whether the callback may go on: a known, fresh, unused state, started in this browser."""
    if not callback.state:
        return Failure.STATE_MISSING
    if state is None:
        return Failure.STATE_UNKNOWN
    spent = _spent(state, now, Failure.STATE_USED, Failure.STATE_EXPIRED)
    if spent is not None:
        return spent
    if (
        not callback.cookie
        or state.binding is None
        or not hmac.compare_digest(digest(callback.cookie), state.binding)
    ):
        # Someone else's state, or a forged callback: this browser did not start it.
        return Failure.STATE_MISMATCH
    return None


def csrf_problem(link: Pending, form_token: str | None, cookie: str | None) -> Failure | None:
    """Whether the "Continue" form came from the link's own page, opened in this browser."""
    expected = (link.csrf or "").encode()
    sent, kept = (form_token or "").encode(), (cookie or "").encode()
    # Both compared in full, whatever the first says: the time taken tells nothing.
    matches = hmac.compare_digest(sent, expected) & hmac.compare_digest(kept, expected)
    return None if expected and matches else Failure.CSRF_FAILED


def stripe_refusal(error: str) -> Failure:
    return Failure.ACCESS_DENIED if error == "access_denied" else Failure.AUTHORIZATION_FAILED


class Attach(StrEnum):
    """What connecting an account for a company does, given what is stored."""

    CONNECTED = "connected"  # new, or an account of the company's coming back
    REPLACED = "replaced"  # connected, and the company's active account is no longer
    ALREADY_CONNECTED = "already_connected"  # it is the company's active account: nothing to do
    TAKEN = "taken"  # another company's account: refused
    # The company has another active account: refused.
    ANOTHER_ACCOUNT_ACTIVE = "another_account_active"
    # The company waits for the authorisation of the account its migration brought: refused.
    ANOTHER_ACCOUNT_PENDING = "another_account_pending"


def attach_outcome(
    found: ConnectedAccount | None,
    active: ConnectedAccount | None,
    company_id: str,
    replace: bool,
    pending: ConnectedAccount | None = None,
) -> Attach:
    """Connecting account `found` (None: never seen) for a company whose active one is `active`
    and whose account pending authorisation (imported by a migration) is `pending`."""
    if found is not None and found.company_id != company_id:
        return Attach.TAKEN
    if found is not None and found.is_active:
        return Attach.ALREADY_CONNECTED
    if active is None:
        awaited = pending is not None and (found is None or found.account_id != pending.account_id)
        # The migrated account is the one the company expects: another needs the platform's say.
        return Attach.ANOTHER_ACCOUNT_PENDING if awaited and not replace else Attach.CONNECTED
    # A leaked link must not quietly move the company's payments to someone else's account.
    return Attach.REPLACED if replace else Attach.ANOTHER_ACCOUNT_ACTIVE


def must_release(found: ConnectedAccount | None) -> bool:
    """After a refusal: revoke the grant just made, unless the platform needs that access still."""
    return found is None or not found.has_access


def choose_locale(preferred: str | None, accept_language: str | None) -> str:
    """The link's language if it has one, else the browser's first known one."""
    if preferred in LOCALES:
        return preferred
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for _, _, language in sorted(ranked):
        if language in LOCALES:
            return language
    return DEFAULT_LOCALE
