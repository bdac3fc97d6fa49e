"""HTTP side of connecting a Stripe account: the state cookie, the redirect, pages, API views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from chalice import Response

from chalicelib import wiring
from chalicelib.connect_pages import connected_page, failure_page
from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.connect import Callback, ConnectFailed, ConnectRequest, choose_locale
from chalicelib.domain.webhooks import webhook_overview
from chalicelib.http import public_base_url
from chalicelib.observability import count, logger
from chalicelib.services.connect import Connected, NewLink, Redirect

STATE_COOKIE = "stripe_connect_state"
CALLBACK_PATH = "/connect/oauth/callback"


def callback_url(current_request: Any) -> str:
    """The redirect URI Stripe sends the admin back to (registered in the Connect settings)."""
    return public_base_url(current_request) + CALLBACK_PATH


def browser_page(current_request: Callable[[], Any]) -> Callable[..., Any]:
    """Decorator for the routes a browser opens: every failure is a page, never a trace."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except ConnectFailed as failed:
                count(f"ConnectFailed_{failed.failure}")
                logger.warning("connecting stopped", extra={"failure": str(failed.failure)})
                request = failed.request
                return failure_page(
                    failed.failure,
                    _language(current_request(), request),
                    request.return_url if request else None,
                )
            except Exception:
                count("ConnectFailed_error")
                logger.exception("connect page failed")
                return failure_page(None, _language(current_request(), None))

        return wrapper

    return decorate


def redirect_to_stripe(redirect: Redirect, current_request: Any) -> Response:
    cookie = _cookie(current_request, redirect.cookie, redirect.cookie_max_age)
    return Response(
        body="",
        status_code=302,
        headers={
            "Location": redirect.authorize_url,
            "Set-Cookie": cookie,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def parse_callback(current_request: Any) -> Callback:
    query = current_request.query_params or {}
    return Callback(
        state=query.get("state") or None,
        code=query.get("code") or None,
        error=query.get("error") or None,
        cookie=_state_cookie(current_request),
    )


def page_for(connected: Connected, current_request: Any) -> Response:
    # The state is spent: its cookie has nothing left to do.
    cleared = _cookie(current_request, "", 0)
    return connected_page(
        connected.account,
        _language(current_request, connected.request),
        public_base_url(current_request),
        connected.reconnected,
        connected.request.return_url,
        {"Set-Cookie": cleared},
    )


def link_view(link: NewLink, current_request: Any) -> dict[str, Any]:
    return {
        "company_id": link.company_id,
        "url": f"{public_base_url(current_request)}/connect/{link.link_id}",
        "expires_at": link.expires_at,
    }


def account_view(account: ConnectedAccount, current_request: Any) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "company_id": account.company_id,
        "status": str(account.status),
        "livemode": account.livemode,
        "scope": account.scope,
        "connected_at": account.connected_at,
        "connected_by": account.connected_by,
        "disconnected_at": account.disconnected_at,
        "webhook": webhook_overview(public_base_url(current_request), account.account_id),
    }


def _language(current_request: Any, request: ConnectRequest | None) -> str:
    accept = current_request.headers.get("accept-language") if current_request else None
    return choose_locale(request.locale if request else None, accept)


def _cookie(current_request: Any, value: str, max_age: int) -> str:
    path = urlsplit(public_base_url(current_request)).path.rstrip("/") + CALLBACK_PATH
    attributes = [f"{STATE_COOKIE}={value}", f"Max-Age={max_age}", f"Path={path}", "HttpOnly"]
    attributes.append("SameSite=Lax")  # Lax: sent on Stripe's top-level redirect back
    if wiring.settings().stage != "local":  # the local stack serves plain http
        attributes.append("Secure")
    return "; ".join(attributes)


def _state_cookie(current_request: Any) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(current_request.headers.get("cookie") or "")
    except CookieError:
        return None
    morsel = jar.get(STATE_COOKIE)
    return morsel.value if morsel and morsel.value else None
