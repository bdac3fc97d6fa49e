"""HTTP side of connecting a Stripe account: the link's page and its form, the state cookie, the
redirect, pages, API views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalice import Response

from chalicelib import wiring
from chalicelib.connect_pages import connected_page, failure_page, link_page
from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.connect import Callback, ConnectFailed, ConnectRequest, choose_locale
from chalicelib.domain.webhook_health import WebhookHealth, health_view
from chalicelib.domain.webhooks import webhook_overview
from chalicelib.http import public_base_url
from chalicelib.observability import count, logger
from chalicelib.services.connect import Connected, LinkPage, NewLink, Redirect

STATE_COOKIE = "stripe_connect_state"
CSRF_COOKIE = "stripe_connect_csrf"
CSRF_FIELD = "csrf_token"
CALLBACK_PATH = "/connect/oauth/callback"
LINK_PATH = "/connect/"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_MAX_FORM_BYTES = 2048


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


def link_url(current_request: Any, link_id: str) -> str:
    return public_base_url(current_request) + LINK_PATH + link_id


def show_link_page(shown: LinkPage, link_id: str, current_request: Any) -> Response:
    """The link's page; its form may post only back here, then be redirected to Stripe."""
    form_url = link_url(current_request, link_id)
    parts = urlsplit(form_url)
    form_action = f"{parts.scheme}://{parts.netloc} {shown.stripe_origin}"
    # Strict: the form posts from this very page, never from another site.
    cookie = set_cookie(
        CSRF_COOKIE, shown.csrf, shown.expires_in, parts.path, "Strict", current_request
    )
    return link_page(
        shown.request,
        _language(current_request, shown.request),
        form_url,
        shown.csrf,
        form_action,
        {"Set-Cookie": cookie},
    )


def parse_continue(current_request: Any) -> tuple[str | None, str | None]:
    """The CSRF token the link's form sent back, and the one its cookie holds."""
    raw = current_request.raw_body or b""
    token = None
    if len(raw) <= _MAX_FORM_BYTES:
        try:
            fields = parse_qs(raw.decode("utf-8"), max_num_fields=5, strict_parsing=False)
        except ValueError:  # not UTF-8, or too many fields: not our form
            fields = {}
        values = fields.get(CSRF_FIELD) or []
        token = values[0] if len(values) == 1 else None
    return token, read_cookie(current_request, CSRF_COOKIE)


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
        connected.replaced,
    )


def link_view(link: NewLink, current_request: Any) -> dict[str, Any]:
    return {
        "company_id": link.company_id,
        "url": f"{public_base_url(current_request)}/connect/{link.link_id}",
        "expires_at": link.expires_at,
    }


def accounts_view(accounts: list[ConnectedAccount], current_request: Any) -> dict[str, Any]:
    """A company's accounts, each with its webhook's health (read from Stripe as the account)."""
    overviews = wiring.webhook_overview().of_accounts(accounts, public_base_url(current_request))
    return {
        "accounts": [
            account_view(item.account, current_request, item.health) for item in overviews
        ]
    }


def account_with_health(account: ConnectedAccount, current_request: Any) -> dict[str, Any]:
    """One account as the listing shows it (the same shape everywhere in the platform API)."""
    return accounts_view([account], current_request)["accounts"][0]


def account_view(
    account: ConnectedAccount, current_request: Any, health: WebhookHealth | None = None
) -> dict[str, Any]:
    webhook = webhook_overview(public_base_url(current_request), account.account_id)
    if health is not None:
        webhook["health"] = health_view(health)
    return {
        "account_id": account.account_id,
        "company_id": account.company_id,
        "status": str(account.status),
        "livemode": account.livemode,
        "scope": account.scope,
        "connected_at": account.connected_at,
        "connected_by": account.connected_by,
        "disconnected_at": account.disconnected_at,
        "replaced_at": account.replaced_at,
        "replaced_by": account.replaced_by,
        "imported_at": account.imported_at,
        "email": account.email,
        "history": [{"status": step.status, "at": step.at} for step in account.history],
        "webhook": webhook,
        "connect_link": _connect_link(account, current_request),
    }


def _connect_link(account: ConnectedAccount, current_request: Any) -> dict[str, Any] | None:
    """For an account pending authorisation: how the platform gets its admin a connect link.

    Links are made when the admin is there to follow them (single use, minutes): an imported
    account's admin may come back weeks later, and a link kept that long is a standing key.
    """
    if not account.is_pending:
        return None
    return {
        "method": "POST",
        "url": f"{public_base_url(current_request)}/companies/{account.company_id}/connect-links",
        "body": {"email": account.email} if account.email else {},
    }


def _language(current_request: Any, request: ConnectRequest | None) -> str:
    accept = current_request.headers.get("accept-language") if current_request else None
    return choose_locale(request.locale if request else None, accept)


def _cookie(current_request: Any, value: str, max_age: int) -> str:
    path = urlsplit(public_base_url(current_request)).path.rstrip("/") + CALLBACK_PATH
    # Lax: sent on Stripe's top-level redirect back.
    return set_cookie(STATE_COOKIE, value, max_age, path, "Lax", current_request)


def set_cookie(
    name: str, value: str, max_age: int, path: str, same_site: str, current_request: Any
) -> str:
    """A Set-Cookie value: HttpOnly, and Secure except on a developer's machine."""
    attributes = [f"{name}={value}", f"Max-Age={max_age}", f"Path={path}", "HttpOnly"]
    attributes.append(f"SameSite={same_site}")
    if wiring.settings().stage != "local":  # the local stack serves plain http
        attributes.append("Secure")
    return "; ".join(attributes)


def _state_cookie(current_request: Any) -> str | None:
    return read_cookie(current_request, STATE_COOKIE)


def read_cookie(current_request: Any, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(current_request.headers.get("cookie") or "")
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel and morsel.value else None
