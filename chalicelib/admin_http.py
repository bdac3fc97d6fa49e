"""HTTP side of the webhook overview an admin link opens: the page, its two forms (CSRF-checked,
answered by a redirect back to the page), and the link the platform asks for."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from chalice import Response

from chalicelib import wiring
from chalicelib.connect_http import read_cookie, set_cookie
from chalicelib.domain.accounts import parse_signing_secrets
from chalicelib.domain.admin import (
    FAILURE_STATUS,
    AdminFailed,
    AdminFailure,
    Notice,
    parse_notice,
)
from chalicelib.domain.connect import ConnectRequest, choose_locale, parse_account_id
from chalicelib.domain.errors import InvalidInput, NotFound, StripeRejected, StripeUnavailable
from chalicelib.http import public_base_url
from chalicelib.observability import count, logger
from chalicelib.pages import content_security_policy, page
from chalicelib.services.admin_links import AdminSession, NewAdminLink
from chalicelib.services.provisioning import EndpointMismatch

ADMIN_PATH = "/admin/"
CSRF_COOKIE = "stripe_bridge_admin_csrf"
CSRF_FIELD = "csrf_token"
SECRET_FIELD = "signing_secret"
_MAX_FORM_BYTES = 2048


def admin_link_view(link: NewAdminLink, current_request: Any) -> dict[str, Any]:
    return {
        "company_id": link.company_id,
        "url": _link_url(current_request, link.link_id),
        "expires_at": link.expires_at,
    }


def admin_page(current_request: Callable[[], Any]) -> Callable[..., Any]:
    """Decorator for the overview's routes: every failure is a page, never a trace."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except AdminFailed as failed:
                count(f"AdminFailed_{failed.failure}")
                logger.warning("admin page refused", extra={"failure": str(failed.failure)})
                request = failed.request
                return _failure(
                    str(failed.failure),
                    FAILURE_STATUS[failed.failure],
                    _language(current_request(), request),
                    request.return_url if request else None,
                )
            except Exception:
                count("AdminFailed_error")
                logger.exception("admin page failed")
                return _failure("admin_error", 500, _language(current_request(), None), None)

        return wrapper

    return decorate


def show_overview(session: AdminSession, link_id: str, current_request: Any) -> Response:
    """The company's accounts with their webhook setup and health, and the forms' token."""
    base_url = public_base_url(current_request)
    request = session.request
    overview = wiring.webhook_overview()
    accounts = overview.of_accounts(
        wiring.connect_service().accounts_of(request.company_id), base_url
    )
    link_url = _link_url(current_request, link_id)
    parts = urlsplit(link_url)
    query = current_request.query_params or {}
    csp = content_security_policy(f"{parts.scheme}://{parts.netloc}", script=True)
    # Strict: the forms post from this very page, never from another site.
    cookie = set_cookie(
        CSRF_COOKIE, session.csrf, session.expires_in, parts.path, "Strict", current_request
    )
    return page(
        200,
        "overview.html",
        _language(current_request, request),
        "webhook_overview",
        "ok",
        {"Content-Security-Policy": csp, "Set-Cookie": cookie},
        company_name=request.company_name or request.company_id,
        accounts=accounts,
        csrf=session.csrf,
        form_base=link_url,
        notice=parse_notice(query.get("notice")),
        return_url=request.return_url,
    )


def create_endpoint(link_id: str, account_id: str, current_request: Any) -> Response:
    """The "Create it for me" button: the account's endpoint made (or mended) at Stripe."""
    fields = _form(current_request)
    session = wiring.admin_links().check_form(
        link_id, fields.get(CSRF_FIELD), read_cookie(current_request, CSRF_COOKIE)
    )
    account_id = _account_id(account_id, session.request)
    logger.append_keys(account=account_id)
    try:
        provisioned = wiring.webhook_overview().create_endpoint(
            session.request.company_id, account_id, public_base_url(current_request)
        )
        notice = Notice(f"endpoint_{provisioned.action}")
        count(f"AccountEndpoint_{provisioned.action}")
    except NotFound:
        raise AdminFailed(AdminFailure.ACCOUNT_UNKNOWN, session.request) from None
    except EndpointMismatch:
        notice = Notice.ENDPOINT_VERSION_MISMATCH
    except StripeUnavailable:
        notice = Notice.STRIPE_UNAVAILABLE
    except StripeRejected as rejected:
        notice = (
            Notice.NOT_CONNECTED if rejected.code == "not_connected" else Notice.STRIPE_REJECTED
        )
        logger.warning("Stripe refused the endpoint", extra={"stripe_code": rejected.code})
    return _back(current_request, link_id, notice, account_id)


def save_secret(link_id: str, account_id: str, current_request: Any) -> Response:
    """The pasted signing secret, sealed for the account; only its last characters shown."""
    fields = _form(current_request)
    session = wiring.admin_links().check_form(
        link_id, fields.get(CSRF_FIELD), read_cookie(current_request, CSRF_COOKIE)
    )
    account_id = _account_id(account_id, session.request)
    logger.append_keys(account=account_id)
    try:
        [secret] = parse_signing_secrets({"signing_secrets": [fields.get(SECRET_FIELD, "")]})
    except InvalidInput:
        return _back(current_request, link_id, Notice.SECRET_INVALID, account_id)
    try:
        wiring.webhook_overview().set_secret(session.request.company_id, account_id, secret)
    except NotFound:
        raise AdminFailed(AdminFailure.ACCOUNT_UNKNOWN, session.request) from None
    logger.info("account signing secret saved from the overview")
    count("AccountSecretSaved")
    return _back(current_request, link_id, Notice.SECRET_SAVED, account_id)


def _account_id(value: str, request: ConnectRequest) -> str:
    try:
        return parse_account_id(value)
    except InvalidInput:
        raise AdminFailed(AdminFailure.ACCOUNT_UNKNOWN, request) from None


def _back(current_request: Any, link_id: str, notice: Notice, account_id: str) -> Response:
    # See Other: the browser GETs the overview again, and a reload posts nothing twice.
    location = f"{_link_url(current_request, link_id)}?notice={notice}#{quote(account_id)}"
    return Response(
        body="",
        status_code=303,
        headers={
            "Location": location,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def _form(current_request: Any) -> dict[str, str]:
    """The form's fields, each sent once; anything else (too big, not UTF-8) is no form."""
    raw = current_request.raw_body or b""
    if len(raw) > _MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(raw.decode("utf-8"), max_num_fields=5, strict_parsing=False)
    except ValueError:
        return {}
    return {name: values[0] for name, values in fields.items() if len(values) == 1}


def _link_url(current_request: Any, link_id: str) -> str:
    return public_base_url(current_request) + ADMIN_PATH + link_id


def _failure(name: str, status: int, lang: str, return_url: str | None) -> Response:
    return page(status, "failure.html", lang, name, "failed", failure=name, return_url=return_url)


def _language(current_request: Any, request: ConnectRequest | None) -> str:
    accept = current_request.headers.get("accept-language") if current_request else None
    return choose_locale(request.locale if request else None, accept)
