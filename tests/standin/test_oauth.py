"""Stripe Connect OAuth against the stand-in: the consent page, the SDK's token exchange and
deauthorization, and what Stripe does with a code used twice."""

from __future__ import annotations

import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import stripe

from .conftest import eventually

REDIRECT = "http://127.0.0.1:9/oauth/callback"


class _Form(HTMLParser):
    """The consent page's form: where it posts, its fields, its buttons by id."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, tuple[str, str]] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a["action"]
        elif tag == "input":
            self.fields[a["name"]] = a["value"]
        elif tag == "button":
            self.buttons[a["id"]] = (a["name"], a["value"])

    def handle_data(self, data):
        self.text.append(data)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def _open(url: str, data: bytes | None = None) -> tuple[int, dict, str]:
    try:
        with _opener.open(url, data=data, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _consent(url: str) -> _Form:
    status, _, page = _open(url)
    assert status == 200, page
    form = _Form()
    form.feed(page)
    return form


def _click(form: _Form, button: str) -> dict[str, str]:
    """Submits the consent form with one button; returns the redirect's query."""
    name, value = form.buttons[button]
    status, headers, _ = _open(form.action, urlencode({**form.fields, name: value}).encode())
    assert status == 302
    location = urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def _authorize_url(client, **extra) -> str:
    return client.oauth.authorize_url(
        {"scope": "read_write", "state": "st-123", "redirect_uri": REDIRECT, **extra}
    )


def test_connect_and_exchange_the_code(client, control):
    form = _consent(_authorize_url(client, stripe_user={"email": "shop@example.com"}))
    page_text = " ".join(form.text)
    assert "Connect shop@example.com to Local platform" in page_text
    assert set(form.buttons) == {"connect", "deny"}

    callback = _click(form, "connect")
    assert callback["state"] == "st-123" and callback["scope"] == "read_write"
    assert callback["code"].startswith("ac_")

    token = client.oauth.token({"grant_type": "authorization_code", "code": callback["code"]})
    assert token.stripe_user_id.startswith("acct_")
    assert (token.scope, token.livemode, token.token_type) == ("read_write", False, "bearer")
    assert token.access_token and token.refresh_token and token.stripe_publishable_key

    account = client.v1.accounts.retrieve(token.stripe_user_id)
    assert account.email == "shop@example.com"
    pi = client.v1.payment_intents.create(
        {"amount": 100, "currency": "usd"}, {"stripe_account": token.stripe_user_id}
    )
    assert pi.status == "requires_payment_method"
    assert control.event_types(token.stripe_user_id)[0] == "account.application.authorized"


def test_same_email_connects_the_same_account_again(client):
    first = _click(
        _consent(_authorize_url(client, stripe_user={"email": "a@example.com"})), "connect"
    )
    account_id = client.oauth.token(
        {"grant_type": "authorization_code", "code": first["code"]}
    ).stripe_user_id
    client.oauth.deauthorize({"stripe_user_id": account_id})

    again = _click(
        _consent(_authorize_url(client, stripe_user={"email": "a@example.com"})), "connect"
    )
    assert (
        client.oauth.token(
            {"grant_type": "authorization_code", "code": again["code"]}
        ).stripe_user_id
        == account_id
    )


def test_deny_redirects_with_access_denied(client):
    callback = _click(_consent(_authorize_url(client)), "deny")
    assert callback == {
        "error": "access_denied",
        "error_description": "The user denied your request",
        "state": "st-123",
    }


def test_unknown_client_id_gets_an_error_page(standin):
    status, _, page = _open(
        standin.url
        + "/oauth/authorize?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": "ca_someone_else",
                "scope": "read_write",
                "redirect_uri": REDIRECT,
            }
        )
    )
    assert status == 400
    assert "ca_someone_else" in page and 'id="connect"' not in page


def test_reused_code_is_refused_and_revokes_the_connection(client, control, receiver):
    connect_hook = client.v1.webhook_endpoints.create(
        {
            "url": receiver.url + "/connect",
            "enabled_events": [
                "account.application.authorized",
                "account.application.deauthorized",
            ],
            "connect": True,
        }
    )
    code = _click(_consent(_authorize_url(client)), "connect")["code"]
    account_id = client.oauth.token(
        {"grant_type": "authorization_code", "code": code}
    ).stripe_user_id

    with pytest.raises(stripe.oauth_error.InvalidGrantError) as raised:
        client.oauth.token({"grant_type": "authorization_code", "code": code})
    assert raised.value.code == "invalid_grant"
    assert "already used" in raised.value.user_message

    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve(account_id)
    eventually(lambda: len(receiver.received("/connect")) == 2)
    events = [
        stripe.Webhook.construct_event(
            r["body"], r["headers"]["Stripe-Signature"], connect_hook.secret
        )
        for r in receiver.received("/connect")
    ]
    assert [(e.type, e.account) for e in events] == [
        ("account.application.authorized", account_id),
        ("account.application.deauthorized", account_id),
    ]


def test_unknown_and_expired_codes(client, standin):
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        client.oauth.token({"grant_type": "authorization_code", "code": "ac_never_issued"})

    code = _click(_consent(_authorize_url(client)), "connect")["code"]
    issued_at = standin.store.clock()
    standin.store.clock = lambda: issued_at + standin.store.code_ttl + 1
    with pytest.raises(stripe.oauth_error.InvalidGrantError) as raised:
        client.oauth.token({"grant_type": "authorization_code", "code": code})
    assert "expired" in raised.value.user_message


def test_token_exchange_needs_the_secret_key(client, standin):
    code = _click(_consent(_authorize_url(client)), "connect")["code"]
    stranger = stripe.StripeClient(
        "sk_test_not_ours_at_all", base_addresses={"connect": standin.url}
    )
    with pytest.raises(stripe.oauth_error.InvalidClientError):
        stranger.oauth.token({"grant_type": "authorization_code", "code": code})
    assert client.oauth.token({"grant_type": "authorization_code", "code": code}).stripe_user_id


def test_deauthorize_through_the_sdk(client, control, receiver):
    control.account("acct_demo")
    hook = client.v1.webhook_endpoints.create(
        {
            "url": receiver.url + "/connect",
            "enabled_events": ["account.application.deauthorized"],
            "connect": True,
        }
    )

    assert client.oauth.deauthorize({"stripe_user_id": "acct_demo"}).stripe_user_id == "acct_demo"

    [request] = eventually(lambda: receiver.received("/connect"))
    event = stripe.Webhook.construct_event(
        request["body"], request["headers"]["Stripe-Signature"], hook.secret
    )
    assert (event.type, event.account) == ("account.application.deauthorized", "acct_demo")
    assert (event.data.object.object, event.data.object.id) == ("application", "ca_standin")
    with pytest.raises(stripe.PermissionError):
        client.v1.payment_intents.create(
            {"amount": 100, "currency": "usd"}, {"stripe_account": "acct_demo"}
        )

    for account_id in ("acct_demo", "acct_unknown"):
        with pytest.raises(stripe.oauth_error.InvalidClientError):
            client.oauth.deauthorize({"stripe_user_id": account_id})


def test_account_holder_revokes_from_the_dashboard(client, control, receiver):
    control.account("acct_demo")
    client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/connect", "enabled_events": ["*"], "connect": True}
    )

    revoked = control.post("/_standin/accounts/acct_demo/deauthorize", {"deliver": False})
    [record] = control.get(
        "/_standin/events?account=acct_demo&type=account.application.deauthorized"
    )["data"]
    assert record["event"]["id"] == revoked["events"][0]
    assert record["deliveries"] == [] and len(record["pending_endpoints"]) == 1
    assert receiver.received("/connect") == []
    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve("acct_demo")

    status, body = control.call("POST", "/_standin/accounts/acct_demo/deauthorize", {})
    assert status == 400
