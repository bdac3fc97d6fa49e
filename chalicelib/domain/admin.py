"""Admin links: a short-lived page of one company's webhook overview, and its forms."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from chalicelib.domain.connect import ConnectRequest, parse_connect_request
from chalicelib.domain.errors import DomainError, InvalidInput

_FIELDS = {"locale", "return_url", "company_name"}


class AdminFailure(StrEnum):
    """Why an admin page cannot be shown or its form not carried out; each has its page."""

    LINK_UNKNOWN = "admin_link_unknown"
    LINK_EXPIRED = "admin_link_expired"
    FORM_REFUSED = "admin_form_refused"  # not the overview's own form in this browser
    ACCOUNT_UNKNOWN = "admin_account_unknown"  # not an account of the link's company


# A failure's HTTP status.
FAILURE_STATUS = {
    AdminFailure.LINK_UNKNOWN: 404,
    AdminFailure.LINK_EXPIRED: 410,
    AdminFailure.FORM_REFUSED: 403,
    AdminFailure.ACCOUNT_UNKNOWN: 404,
}


class AdminFailed(DomainError):
    def __init__(self, failure: AdminFailure, request: ConnectRequest | None = None) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.request = request  # known once the link was recognised: its locale


class Notice(StrEnum):
    """What the overview says after one of its forms (the redirect back carries it)."""

    ENDPOINT_CREATED = "endpoint_created"
    ENDPOINT_UPDATED = "endpoint_updated"
    ENDPOINT_UNCHANGED = "endpoint_unchanged"
    ENDPOINT_VERSION_MISMATCH = "endpoint_version_mismatch"
    SECRET_SAVED = "secret_saved"
    SECRET_INVALID = "secret_invalid"
    STRIPE_UNAVAILABLE = "stripe_unavailable"
    STRIPE_REJECTED = "stripe_rejected"
    NOT_CONNECTED = "not_connected"

    @property
    def is_error(self) -> bool:
        return self in _ERRORS


_ERRORS = {
    Notice.ENDPOINT_VERSION_MISMATCH,
    Notice.SECRET_INVALID,
    Notice.STRIPE_UNAVAILABLE,
    Notice.STRIPE_REJECTED,
    Notice.NOT_CONNECTED,
}


def parse_notice(value: str | None) -> Notice | None:
    """The notice a redirect named, if it is one (anything else in the URL is ignored)."""
    try:
        return Notice(value) if value else None
    except ValueError:
        return None


def parse_admin_link_request(company_id: str, body: Any) -> ConnectRequest:
    """What the platform may ask of an admin link: its language, a way back, a company name."""
    if body is not None and isinstance(body, dict):
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise InvalidInput(unknown[0], "is not a known field")
    return parse_connect_request(company_id, body)
