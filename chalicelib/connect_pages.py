"""What an admin reads on opening a connect link and at the end, in English or French (the
words are in chalicelib/templates and the catalogs of chalicelib/locale)."""

from __future__ import annotations

from chalice import Response

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.connect import ConnectRequest, Failure
from chalicelib.domain.webhooks import webhook_overview
from chalicelib.pages import content_security_policy, page

# A failure's HTTP status (its title and advice are in templates/failure.html).
FAILURES: dict[Failure | None, int] = {
    Failure.LINK_UNKNOWN: 404,
    Failure.LINK_USED: 410,
    Failure.LINK_EXPIRED: 410,
    Failure.STATE_MISSING: 400,
    Failure.STATE_UNKNOWN: 400,
    Failure.STATE_EXPIRED: 410,
    Failure.STATE_USED: 409,
    Failure.STATE_MISMATCH: 403,
    Failure.ACCESS_DENIED: 403,
    Failure.AUTHORIZATION_FAILED: 400,
    Failure.CODE_REJECTED: 400,
    Failure.STRIPE_UNAVAILABLE: 503,
    Failure.ACCOUNT_TAKEN: 409,
    Failure.ANOTHER_ACCOUNT_ACTIVE: 409,
    Failure.ANOTHER_ACCOUNT_PENDING: 409,
    Failure.CSRF_FAILED: 403,
    Failure.NOT_CONFIGURED: 503,
    None: 500,
}


def failure_page(
    failure: Failure | None, lang: str, return_url: str | None = None, status: int | None = None
) -> Response:
    name = str(failure or "error")
    return page(
        status or FAILURES[failure],
        "failure.html",
        lang,
        name,
        "failed",
        failure=name,
        return_url=return_url,
    )


def link_page(
    request: ConnectRequest,
    lang: str,
    form_url: str,
    csrf: str,
    form_action: str,
    headers: dict[str, str],
) -> Response:
    """The page a connect link opens: what it is for, and the one button that spends it."""
    csp = {"Content-Security-Policy": content_security_policy(form_action)}
    return page(
        200,
        "connect_link.html",
        lang,
        "connect_link",
        "ok",
        {**headers, **csp},
        request=request,
        form_url=form_url,
        csrf=csrf,
    )


def connected_page(
    account: ConnectedAccount,
    lang: str,
    base_url: str,
    again: bool,
    return_url: str | None,
    headers: dict[str, str],
    replaced: ConnectedAccount | None = None,
) -> Response:
    overview = webhook_overview(base_url, account.account_id)
    return page(
        200,
        "connected.html",
        lang,
        "connected",
        "ok",
        headers,
        account=account,
        again=again,
        replaced=replaced,
        url=overview["url"],
        events=overview["enabled_events"],
        return_url=return_url,
    )
