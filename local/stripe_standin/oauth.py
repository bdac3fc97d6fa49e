"""Stripe Connect OAuth for Standard accounts: the consent page, code exchange, deauthorization."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from . import objects
from .errors import OAuthError
from .routing import Request, Response, Routes

if TYPE_CHECKING:
    from .server import StripeStandin

routes = Routes(auth="oauth", body="form")

SCOPES = ("read_write", "read_only")


def _redirect(uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in uri else "?"
    return Response(302, "", {"Location": f"{uri}{separator}{query}"})


def _page(status: int, title: str, body: str) -> Response:
    return Response(status, (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head>\n<body><main>\n{body}\n</main></body></html>\n"
    ))


def _error_page(message: str) -> Response:
    return _page(400, "Connect error", f"<h1>Something went wrong</h1>\n"
                                       f"<p id=\"error\">{html.escape(message)}</p>")


def _check_request(app: StripeStandin, params: dict) -> tuple[str, str] | Response:
    """(redirect_uri, scope) of a valid authorize request, or the answer to an invalid one."""
    if params.get("client_id") != app.client_id:
        return _error_page(f"No application matches the client_id "
                           f"{params.get('client_id')!r}.")
    redirect_uri = params.get("redirect_uri")
    if not isinstance(redirect_uri, str) or not redirect_uri.startswith(("http://", "https://")):
        return _error_page("A redirect_uri (http or https) is required.")
    state = params.get("state")
    if params.get("response_type", "code") != "code":
        return _redirect(redirect_uri, error="unsupported_response_type",
                         error_description="Only response_type=code is supported.", state=state)
    scope = params.get("scope") or "read_only"
    if scope not in SCOPES:
        return _redirect(redirect_uri, error="invalid_scope",
                         error_description=f"Invalid scope: {scope}", state=state)
    return redirect_uri, scope


def _email(params: dict) -> str | None:
    stripe_user = params.get("stripe_user")
    return (stripe_user.get("email") or None) if isinstance(stripe_user, dict) else None


@routes.add("GET", "/oauth/authorize", public=True)
def authorize_page(app: StripeStandin, req: Request) -> Response:
    checked = _check_request(app, req.params)
    if isinstance(checked, Response):
        return checked
    redirect_uri, scope = checked
    email = _email(req.params)
    existing = app.store.find_account_by_email(email) if email else None
    who = ((existing or {}).get("business_profile") or {}).get("name") or email \
        or "a new Stripe account"
    fields = {"client_id": app.client_id, "redirect_uri": redirect_uri, "scope": scope,
              "state": req.params.get("state"), "stripe_user[email]": email}
    hidden = "\n".join(
        f'  <input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items() if isinstance(v, str))
    access = "read and write" if scope == "read_write" else "read-only"
    platform = html.escape(app.store.platform_name)
    return _page(200, f"Connect to {app.store.platform_name}", (
        f"<h1>Connect {html.escape(who)} to {platform}</h1>\n"
        f"<p>{platform} asks for {access} access to your Stripe account.</p>\n"
        f'<form method="post" action="{html.escape(app.public_url)}/oauth/authorize">\n'
        f"{hidden}\n"
        '  <button type="submit" id="connect" name="decision" value="connect">Connect</button>\n'
        '  <button type="submit" id="deny" name="decision" value="deny">Deny</button>\n'
        "</form>"
    ))


@routes.add("POST", "/oauth/authorize", public=True)
def authorize_decision(app: StripeStandin, req: Request) -> Response:
    checked = _check_request(app, req.params)
    if isinstance(checked, Response):
        return checked
    redirect_uri, scope = checked
    state = req.params.get("state")
    if req.params.get("decision") != "connect":
        return _redirect(redirect_uri, error="access_denied",
                         error_description="The user denied your request", state=state)
    account, _ = app.store.connect_account(email=_email(req.params))
    code = app.store.issue_code(account["id"], scope)
    return _redirect(redirect_uri, code=code, scope=scope, state=state)


@routes.add("POST", "/oauth/token")
def token(app: StripeStandin, req: Request) -> dict:
    grant_type = req.params.get("grant_type")
    if not grant_type:
        raise OAuthError(400, "invalid_request", "No grant type specified")
    if grant_type != "authorization_code":
        raise OAuthError(400, "unsupported_grant_type",
                         f"Unsupported grant type: {grant_type}")
    code = req.params.get("code")
    if not code:
        raise OAuthError(400, "invalid_request", "No authorization code provided")
    account, scope = app.store.redeem_code(code, request=req.event_request())
    return {
        "access_token": "sk_test_" + objects.random_token(40),
        "livemode": False,
        "refresh_token": "rt_" + objects.random_token(40),
        "scope": scope,
        "stripe_publishable_key": "pk_test_" + objects.random_token(40),
        "stripe_user_id": account["id"],
        "token_type": "bearer",
    }


@routes.add("POST", "/oauth/deauthorize")
def deauthorize(app: StripeStandin, req: Request) -> dict:
    client_id = req.params.get("client_id")
    if client_id != app.client_id:
        raise OAuthError(400, "invalid_client", f"No such application: '{client_id}'")
    account_id = req.params.get("stripe_user_id")
    if not account_id:
        raise OAuthError(400, "invalid_request", "No stripe_user_id provided")
    if app.store.disconnect_account(account_id, request=req.event_request()) is None:
        raise OAuthError(400, "invalid_client",
                         f"This application is not connected to stripe account {account_id}, "
                         "or that account does not exist.")
    return {"stripe_user_id": account_id}
