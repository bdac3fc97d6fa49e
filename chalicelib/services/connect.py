"""Connecting a company's Stripe account by OAuth (single-use link, state bound to the admin's
browser, code exchanged once), listing its accounts, and disconnecting one."""

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
    digest,
    link_problem,
    state_problem,
    stripe_refusal,
)
from chalicelib.domain.errors import NotFound, StripeRejected, StripeUnavailable
from chalicelib.observability import logger
from chalicelib.ports import AccountStore, ConnectOAuth, ConnectSessions


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


def _link_key(link_id: str) -> str:
    return f"link#{digest(link_id)}"


def _state_key(state: str) -> str:
    return f"state#{digest(state)}"


@dataclass
class ConnectService:
    sessions: ConnectSessions
    accounts: AccountStore
    oauth: ConnectOAuth
    link_ttl_seconds: int
    state_ttl_seconds: int
    clock: Callable[[], float] = time.time
    new_secret: Callable[[], str] = new_secret

    def create_link(self, request: ConnectRequest) -> NewLink:
        link_id = self.new_secret()
        expires_at = int(self.clock()) + self.link_ttl_seconds
        self.sessions.put(_link_key(link_id), Pending(request, expires_at))
        return NewLink(link_id, request.company_id, iso(expires_at))

    def open_link(self, link_id: str, redirect_uri: str) -> Redirect:
        """Spend the link and start an authorization: a new state, bound to a new cookie."""
        now = self.clock()
        link = self.sessions.get(_link_key(link_id))
        problem = link_problem(link, now)
        if problem is not None or link is None:
            raise ConnectFailed(problem or Failure.LINK_UNKNOWN, link.request if link else None)
        request = link.request
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

    def finish(self, callback: Callback) -> Connected:
        """Check and spend the state, then exchange the code once and store the account."""
        key = _state_key(callback.state) if callback.state else None
        state = self.sessions.get(key) if key else None
        problem = state_problem(state, callback, self.clock())
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
        outcome, before = self.accounts.attach(account)
        if outcome is Attach.TAKEN:
            self._release(before)
            raise ConnectFailed(Failure.ACCOUNT_TAKEN, request)
        if outcome is Attach.ALREADY_CONNECTED and before is not None:
            return Connected(before, request, reconnected=True)
        return Connected(account, request, reconnected=before is not None)

    def _release(self, owner: ConnectedAccount | None) -> None:
        """Refused for another company: undo the grant unless that company still uses it."""
        if owner is not None and not owner.is_connected:
            try:
                self.oauth.deauthorize(owner.account_id)
            except (StripeRejected, StripeUnavailable):
                # Stripe's access stays, but no company acts on the account's events.
                logger.warning(
                    "could not release a refused account", extra={"account": owner.account_id}
                )

    def disconnect(self, company_id: str, account_id: str) -> ConnectedAccount:
        account = self.accounts.get(account_id)
        if account is None or account.company_id != company_id:
            raise NotFound(f"company {company_id} has no Stripe account {account_id}")
        if account.is_connected:
            # Stripe first: if it fails the account stays connected here, as it is there.
            self.oauth.deauthorize(account_id)
        return self.accounts.mark_disconnected(account_id, iso(self.clock())) or account

    def accounts_of(self, company_id: str) -> list[ConnectedAccount]:
        return self.accounts.for_company(company_id)
