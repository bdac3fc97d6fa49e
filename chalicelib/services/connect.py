"""Connecting a company's Stripe account by OAuth (a single-use link spent only by its page's
form, a state bound to the admin's browser, a code exchanged once, one active account per
company), listing its accounts, and disconnecting one."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.connect import (
    Attach,
    Callback,
    ConnectFailed,
    ConnectRequest,
    Failure,
    Pending,
    csrf_problem,
    digest,
    link_problem,
    must_release,
    state_problem,
    stripe_refusal,
)
from chalicelib.domain.errors import NotFound, StripeRejected, StripeUnavailable
from chalicelib.observability import logger
from chalicelib.ports import ConnectOAuth, ConnectSessions
from chalicelib.services.accounts import Accounts


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class NewLink:
    link_id: str  # the secret part of the URL; only its digest is stored
    company_id: str
    expires_at: str


@dataclass(frozen=True)
class LinkPage:
    """What the admin sees on opening a link, before anything is spent."""

    request: ConnectRequest
    csrf: str  # goes in the form and in a cookie; both must come back with the POST
    expires_in: int  # seconds
    stripe_origin: str  # where the form's answer sends the admin


@dataclass(frozen=True)
class Redirect:
    """Where the admin goes next, and the value of the cookie that binds the state to them."""

    authorize_url: str
    cookie: str
    cookie_max_age: int
    request: ConnectRequest


@dataclass(frozen=True)
class Connected:
    account: ConnectedAccount
    request: ConnectRequest
    reconnected: bool
    replaced: ConnectedAccount | None = None


def _link_key(link_id: str) -> str:
    return f"link#{digest(link_id)}"


def _state_key(state: str) -> str:
    return f"state#{digest(state)}"


@dataclass
class ConnectService:
    sessions: ConnectSessions
    accounts: Accounts
    oauth: ConnectOAuth
    link_ttl_seconds: int
    state_ttl_seconds: int
    clock: Callable[[], float] = time.time
    new_secret: Callable[[], str] = new_secret

    def create_link(self, request: ConnectRequest) -> NewLink:
        link_id = self.new_secret()
        expires_at = int(self.clock()) + self.link_ttl_seconds
        pending = Pending(request, expires_at, csrf=self.new_secret())
        self.sessions.put(_link_key(link_id), pending)
        return NewLink(link_id, request.company_id, iso(expires_at))

    def show_link(self, link_id: str) -> LinkPage:
        """What the link is for; reading it spends nothing (mail scanners and previews open it)."""
        now = self.clock()
        link = self._usable_link(link_id, now)
        expires_in = max(0, int(link.expires_at - now))
        return LinkPage(link.request, link.csrf or "", expires_in, self.oauth.authorize_origin())

    def open_link(
        self, link_id: str, redirect_uri: str, form_token: str | None, csrf_cookie: str | None
    ) -> Redirect:
        """The admin pressed "Continue to Stripe" on the link's page: spend the link and start
        an authorization, with a new state bound to a new cookie."""
        now = self.clock()
        link = self._usable_link(link_id, now)
        request = link.request
        problem = csrf_problem(link, form_token, csrf_cookie)
        if problem is not None:
            # Not the link's own page in this browser (a forged or scripted POST): nothing spent.
            raise ConnectFailed(problem, request)
        state, cookie = self.new_secret(), self.new_secret()
        try:
            # Built before the link is spent: a stage without a client id keeps its links.
            url = self.oauth.authorize_url(state, redirect_uri, request.email)
        except StripeRejected:
            raise ConnectFailed(Failure.NOT_CONFIGURED, request) from None
        if not self.sessions.use(_link_key(link_id), int(now)):
            raise ConnectFailed(Failure.LINK_USED, request)
        expires_at = int(now) + self.state_ttl_seconds
        self.sessions.put(_state_key(state), Pending(request, expires_at, binding=digest(cookie)))
        return Redirect(url, cookie, self.state_ttl_seconds, request)

    def _usable_link(self, link_id: str, now: float) -> Pending:
        link = self.sessions.get(_link_key(link_id))
        problem = link_problem(link, now)
        if problem is not None or link is None:
            raise ConnectFailed(problem or Failure.LINK_UNKNOWN, link.request if link else None)
        return link

    def finish(self, callback: Callback) -> Connected:
        """Check and spend the state, then exchange the code once and store the account."""
        key = _state_key(callback.state) if callback.state else None
        state = self.sessions.get(key) if key else None
        problem = state_problem(state, callback, self.clock())
        if problem is Failure.STATE_MISMATCH and callback.code and key is not None:
            # State and code were seen outside the browser that started them: never usable again.
            self.sessions.use(key, int(self.clock()))
        if problem is not None or state is None or key is None:
            raise ConnectFailed(problem or Failure.STATE_UNKNOWN, state.request if state else None)
        request = state.request
        # Spent before Stripe is called: a replayed callback never reaches the code exchange.
        if not self.sessions.use(key, int(self.clock())):
            raise ConnectFailed(Failure.STATE_USED, request)
        if callback.error:
            raise ConnectFailed(stripe_refusal(callback.error), request)
        if not callback.code:
            raise ConnectFailed(Failure.AUTHORIZATION_FAILED, request)
        try:
            granted = self.oauth.exchange_code(callback.code)
        except StripeRejected:
            raise ConnectFailed(Failure.CODE_REJECTED, request) from None
        except StripeUnavailable:
            raise ConnectFailed(Failure.STRIPE_UNAVAILABLE, request) from None
        account = ConnectedAccount(
            account_id=granted.account_id,
            company_id=request.company_id,
            livemode=granted.livemode,
            connected_at=iso(self.clock()),
            scope=granted.scope,
            connected_by=request.connected_by,
        )
        attached = self.accounts.attach(account, request.replace, iso(self.clock()))
        refusals = {
            Attach.TAKEN: Failure.ACCOUNT_TAKEN,
            Attach.ANOTHER_ACCOUNT_ACTIVE: Failure.ANOTHER_ACCOUNT_ACTIVE,
            Attach.ANOTHER_ACCOUNT_PENDING: Failure.ANOTHER_ACCOUNT_PENDING,
        }
        if attached.outcome in refusals:
            if must_release(attached.found):
                self._release(granted.account_id)
            raise ConnectFailed(refusals[attached.outcome], request)
        stored = attached.account or account
        return Connected(
            stored,
            request,
            reconnected=attached.found is not None,
            replaced=attached.replaced if attached.outcome is Attach.REPLACED else None,
        )

    def _release(self, account_id: str) -> None:
        """Refused: undo the grant just made, so the account is not left attached to us."""
        try:
            self.oauth.deauthorize(account_id)
        except (StripeRejected, StripeUnavailable):
            # Stripe's access stays, but no company acts on the account's events.
            logger.warning("could not release a refused account", extra={"account": account_id})

    def disconnect(self, company_id: str, account_id: str) -> ConnectedAccount:
        account = self.accounts.get(account_id)
        if account is None or account.company_id != company_id:
            raise NotFound(f"company {company_id} has no Stripe account {account_id}")
        if account.has_access:
            # Stripe first: if it fails the account stays connected here, as it is there.
            self.oauth.deauthorize(account_id)
        # Also when it was disconnected already: publishes what an earlier try left unsent.
        return self.accounts.mark_disconnected(account_id, iso(self.clock())) or account

    def accounts_of(self, company_id: str) -> list[ConnectedAccount]:
        return self.accounts.for_company(company_id)
