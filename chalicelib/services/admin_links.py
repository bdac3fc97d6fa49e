"""Admin links: the platform asks for one per company; opening it shows the company's webhook
overview for a short while, and its forms work only from that page in that browser."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.admin import AdminFailed, AdminFailure
from chalicelib.domain.connect import ConnectRequest, Pending, csrf_problem, digest
from chalicelib.ports import ConnectSessions
from chalicelib.services.connect import iso, new_secret


@dataclass(frozen=True)
class NewAdminLink:
    link_id: str  # the secret part of the URL; only its digest is stored
    company_id: str
    expires_at: str


@dataclass(frozen=True)
class AdminSession:
    """An opened admin link: whose overview, in which language, and its forms' token."""

    request: ConnectRequest
    csrf: str
    expires_in: int  # seconds


def _key(link_id: str) -> str:
    return f"admin#{digest(link_id)}"


@dataclass
class AdminLinks:
    sessions: ConnectSessions
    ttl_seconds: int
    clock: Callable[[], float] = time.time
    new_secret: Callable[[], str] = new_secret

    def create(self, request: ConnectRequest) -> NewAdminLink:
        link_id = self.new_secret()
        expires_at = int(self.clock()) + self.ttl_seconds
        self.sessions.put(_key(link_id), Pending(request, expires_at, csrf=self.new_secret()))
        return NewAdminLink(link_id, request.company_id, iso(expires_at))

    def open(self, link_id: str) -> AdminSession:
        """The link's session while it lasts; it may be opened again and again until then."""
        link = self.sessions.get(_key(link_id))
        if link is None:
            raise AdminFailed(AdminFailure.LINK_UNKNOWN)
        now = self.clock()
        # The table's TTL deletes expired items days late, if at all: expiry is checked here.
        if now >= link.expires_at:
            raise AdminFailed(AdminFailure.LINK_EXPIRED, link.request)
        return AdminSession(link.request, link.csrf or "", int(link.expires_at - now))

    def check_form(self, link_id: str, form_token: str | None, cookie: str | None) -> AdminSession:
        """The session, if the form came from the link's own page in this browser."""
        session = self.open(link_id)
        link = Pending(session.request, 0, csrf=session.csrf)
        if csrf_problem(link, form_token, cookie) is not None:
            raise AdminFailed(AdminFailure.FORM_REFUSED, session.request)
        return session
