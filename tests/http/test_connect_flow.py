"""Connecting a Stripe account through the HTTP API (chalice.test.Client), against moto and the
Stripe stand-in through the real SDK: the link, the redirect, the callback and every failure."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
from chalice.test import Client

import app as service
from chalicelib import wiring
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from tests.http.conftest import SERVICE, TOKEN

BASE = "https://bridge.example.com"
CALLBACK = f"{BASE}/connect/oauth/callback"


@pytest.fixture
def client(tmp_path: Path):
    # An empty project: the test's environment applies, not a stage of .chalice/config.json.
    with Client(service.app, project_dir=str(tmp_path)) as test_client:
        yield test_client


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


def consent(authorize_url: str, decision: str = "connect") -> dict[str, str]:
    """The account holder answers Stripe's consent page; the query Stripe redirects back with."""
    url = urlsplit(authorize_url)
    fields = [*parse_qsl(url.query), ("decision", decision)]
    opener = urllib.request.build_opener(_Stay())
    try:
        opener.open(f"{url.scheme}://{url.netloc}{url.path}", urlencode(fields).encode())
    except urllib.error.HTTPError as redirect:
        location = urlsplit(redirect.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
        return dict(parse_qsl(location.query))
    raise AssertionError("the consent page did not redirect back")


class Admin:
    """One admin's browser: the cookie jar of the service's callback path."""

    def __init__(self, client: Client, accept_language: str | None = None) -> None:
        self.client = client
        self.cookie: str | None = None
        self.accept_language = accept_language

    def open(self, link_url: str):
        response = self.client.http.get(urlsplit(link_url).path, headers=self._headers())
        if response.status_code == 302:
            set_cookie = response.headers["Set-Cookie"]
            self.cookie = set_cookie.split(";")[0].split("=", 1)[1]
        return response

    def back_from_stripe(self, query: dict[str, str]):
        path = f"/connect/oauth/callback?{urlencode(query)}"
        return self.client.http.get(path, headers=self._headers())

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self.cookie:
            headers["Cookie"] = f"stripe_connect_state={self.cookie}"
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        return headers


def platform(client: Client, method: str, path: str, body=None, token: str | None = TOKEN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else b""
    response = client.http.request(method, path, headers=headers, body=data)
    return response.status_code, json.loads(response.body or b"null")


def new_link(client: Client, company: str, **body) -> str:
    status, answer = platform(client, "POST", f"/companies/{company}/connect-links", body)
    assert status == 201, answer
    return answer["url"]


def connect(client: Client, company: str, email: str, **body):
    """The whole happy path; the final page."""
    admin = Admin(client)
    redirect = admin.open(new_link(client, company, email=email, **body))
    assert redirect.status_code == 302, redirect.body
    return admin.back_from_stripe(consent(redirect.headers["Location"]))


def accounts_of(client: Client, company: str) -> list[dict]:
    status, answer = platform(client, "GET", f"/companies/{company}/accounts")
    assert status == 200, answer
    return answer["accounts"]


def page_id(response) -> str:
    found = re.search(rb'<main id="([^"]+)"', response.body)
    assert found, response.body
    return found.group(1).decode()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def stored_item(aws, outputs, account_id: str) -> dict:
    item = aws.client("dynamodb").get_item(
        TableName=outputs["AccountsTableName"], Key={"account_id": {"S": account_id}}
    )
    return item.get("Item", {})


# --- the link ------------------------------------------------------------------------------


def test_a_link_needs_the_platform_token_and_a_valid_body(client):
    status, _ = platform(client, "POST", "/companies/co_1/connect-links", {}, token=None)
    assert status == 401
    status, answer = platform(client, "POST", "/companies/co_1/connect-links", {"locale": "de"})
    assert (status, answer["error"]["field"]) == (400, "locale")


def test_a_link_is_a_url_of_the_service_that_expires_in_15_minutes(client):
    status, answer = platform(
        client, "POST", "/companies/co_1/connect-links", {"email": "a@example.com"}
    )
    assert status == 201
    assert re.fullmatch(rf"{BASE}/connect/[A-Za-z0-9_-]{{40,}}", answer["url"])
    assert answer["company_id"] == "co_1" and answer["expires_at"]


def test_opening_a_link_sends_the_admin_to_stripe_with_a_state_bound_to_a_cookie(client, standin):
    admin = Admin(client)
    response = admin.open(new_link(client, "co_1", email="owner@example.com"))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{standin.url}/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert {k: v for k, v in query.items() if k != "state"} == {
        "client_id": ["ca_http"],
        "response_type": ["code"],
        "scope": ["read_write"],
        "redirect_uri": [CALLBACK],
        "stripe_user[email]": ["owner@example.com"],
    }
    assert len(query["state"][0]) >= 40 and query["state"][0] != admin.cookie
    attributes = [a.strip() for a in response.headers["Set-Cookie"].split(";")[1:]]
    assert attributes == [
        "Max-Age=3600",
        "Path=/connect/oauth/callback",
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
    ]


def test_a_link_works_once(client):
    link = new_link(client, "co_1")
    assert Admin(client).open(link).status_code == 302
    again = Admin(client).open(link)
    assert (again.status_code, page_id(again)) == (410, "link_used")


def test_an_unknown_link_is_not_found(client):
    response = Admin(client).open(f"{BASE}/connect/not-a-link")
    assert (response.status_code, page_id(response)) == (404, "link_unknown")


def test_an_expired_link_is_refused_in_the_admins_language(client, monkeypatch):
    monkeypatch.setenv("CONNECT_LINK_TTL_MINUTES", "0")
    wiring.reset()
    response = Admin(client).open(new_link(client, "co_1", locale="fr"))
    assert (response.status_code, page_id(response)) == (410, "link_expired")
    assert b'lang="fr"' in response.body and "Ce lien a expiré".encode() in response.body


# --- the callback: success -----------------------------------------------------------------


def test_the_admin_connects_and_sees_the_webhook_to_configure(client, aws, outputs):
    company = unique("co-happy")
    page = connect(client, company, f"{company}@example.com", connected_by="jane")
    assert (page.status_code, page_id(page)) == (200, "connected")
    [account] = accounts_of(client, company)
    account_id = account["account_id"]
    assert account["status"] == "connected" and account["connected_by"] == "jane"
    assert account["scope"] == "read_write" and account["livemode"] is False
    assert account["webhook"] == {
        "url": f"{BASE}/webhooks/stripe/{account_id}",
        "enabled_events": list(HANDLED_EVENT_TYPES),
    }
    html = page.body.decode()
    assert account_id in html and f"{BASE}/webhooks/stripe/{account_id}" in html
    assert all(event in html for event in HANDLED_EVENT_TYPES)
    # A page with no outside resources, under a strict policy; the spent cookie is cleared.
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "Max-Age=0" in page.headers["Set-Cookie"]
    assert not re.search(r"(src|href)=\"https?://", html)
    # The deprecated tokens Stripe still returns are never kept.
    stored = json.dumps(stored_item(aws, outputs, account_id))
    assert "sk_test" not in stored and "rt_" not in stored and "token" not in stored


def test_the_success_page_speaks_french_when_the_link_says_so(client):
    company = unique("co-fr")
    page = connect(
        client,
        company,
        f"{company}@example.com",
        locale="fr",
        return_url="https://platform.example.com/réglages?a=1&b=<2>",
    )
    body = page.body.decode()
    assert page.status_code == 200 and 'lang="fr"' in body
    assert "Votre compte Stripe est connecté" in body
    assert 'href="https://platform.example.com/réglages?a=1&amp;b=&lt;2&gt;"' in body


def test_the_same_account_reconnected_to_the_same_company_is_not_duplicated(client):
    company = unique("co-again")
    email = f"{company}@example.com"
    assert connect(client, company, email).status_code == 200
    again = connect(client, company, email)
    assert again.status_code == 200 and b"history is kept" in again.body
    [account] = accounts_of(client, company)
    assert account["status"] == "connected"


def test_a_disconnected_account_reconnects_to_its_company(client, standin):
    company = unique("co-back")
    email = f"{company}@example.com"
    connect(client, company, email)
    [account] = accounts_of(client, company)
    status, _ = platform(client, "DELETE", f"/companies/{company}/accounts/{account['account_id']}")
    assert status == 200 and not standin.store.is_connected(account["account_id"])
    assert connect(client, company, email).status_code == 200
    [back] = accounts_of(client, company)
    assert (back["account_id"], back["status"]) == (account["account_id"], "connected")
    assert back["disconnected_at"] is None and back["connected_at"] > account["connected_at"]
    assert standin.store.is_connected(account["account_id"])


def test_a_company_can_connect_another_account_later(client):
    company = unique("co-two")
    connect(client, company, f"first-{company}@example.com")
    connect(client, company, f"second-{company}@example.com")
    listed = accounts_of(client, company)
    assert len(listed) == 2 and {a["status"] for a in listed} == {"connected"}


# --- the callback: failures ----------------------------------------------------------------


def started(client, company: str, email: str | None = None, **body) -> tuple[Admin, dict]:
    """An admin who opened a link and answered Stripe's page: the callback not yet followed."""
    admin = Admin(client)
    redirect = admin.open(new_link(client, company, **({"email": email} if email else {}), **body))
    return admin, consent(redirect.headers["Location"])


def test_the_admin_denying_access_connects_nothing(client):
    company = unique("co-deny")
    admin = Admin(client)
    redirect = admin.open(new_link(client, company))
    query = consent(redirect.headers["Location"], decision="deny")
    assert query["error"] == "access_denied"
    page = admin.back_from_stripe(query)
    assert (page.status_code, page_id(page)) == (403, "access_denied")
    assert accounts_of(client, company) == []


@pytest.mark.parametrize(
    ("change", "status", "failure"),
    [
        ({"state": None}, 400, "state_missing"),
        ({"state": "made-up-state"}, 400, "state_unknown"),
    ],
)
def test_a_callback_without_a_known_state_is_refused(client, change, status, failure):
    company = unique("co-state")
    admin, query = started(client, company)
    query = {k: v for k, v in {**query, **change}.items() if v is not None}
    page = admin.back_from_stripe(query)
    assert (page.status_code, page_id(page)) == (status, failure)
    assert accounts_of(client, company) == []


def test_a_callback_from_another_browser_is_refused_and_spends_nothing(client):
    company = unique("co-csrf")
    admin, query = started(client, company)
    without_cookie, with_another_flows_cookie = Admin(client), Admin(client)
    with_another_flows_cookie.cookie = "the-cookie-of-another-flow"
    for stranger in (without_cookie, with_another_flows_cookie):
        page = stranger.back_from_stripe(query)
        assert (page.status_code, page_id(page)) == (403, "state_mismatch")
    assert accounts_of(client, company) == []
    assert admin.back_from_stripe(query).status_code == 200  # the rightful browser still can


def test_an_attacker_cannot_attach_their_account_to_the_victims_company(client):
    victim_company, attacker_company = unique("co-victim"), unique("co-attacker")
    victim, victim_query = started(client, victim_company)
    attacker, attacker_query = started(client, attacker_company, f"{attacker_company}@x.io")
    # The victim is lured to the callback with the attacker's state and code ...
    lured = victim.back_from_stripe(attacker_query)
    assert (lured.status_code, page_id(lured)) == (403, "state_mismatch")
    # ... or with their own state but the attacker's code, from the attacker's browser,
    # and naming the victim's company in the query changes nothing.
    forged = {**victim_query, "code": attacker_query["code"], "company_id": victim_company}
    assert page_id(attacker.back_from_stripe(forged)) == "state_mismatch"
    assert accounts_of(client, victim_company) == []
    # The attacker's own flow only ever reaches the attacker's company.
    own = attacker.back_from_stripe({**attacker_query, "company_id": victim_company})
    assert own.status_code == 200
    assert len(accounts_of(client, attacker_company)) == 1
    assert accounts_of(client, victim_company) == []


def test_a_replayed_callback_is_refused_and_the_code_not_exchanged_again(client, standin):
    company = unique("co-replay")
    admin, query = started(client, company, f"{company}@example.com")
    assert admin.back_from_stripe(query).status_code == 200
    page = admin.back_from_stripe(query)
    assert (page.status_code, page_id(page)) == (409, "state_used")
    # A second exchange would have made Stripe revoke the connection: it is still there.
    [account] = accounts_of(client, company)
    assert standin.store.is_connected(account["account_id"])


def test_an_expired_state_is_refused(client, monkeypatch):
    monkeypatch.setenv("CONNECT_STATE_TTL_MINUTES", "0")
    wiring.reset()
    company = unique("co-late")
    admin, query = started(client, company)
    page = admin.back_from_stripe(query)
    assert (page.status_code, page_id(page)) == (410, "state_expired")
    assert accounts_of(client, company) == []


@pytest.mark.parametrize("code", ["expired", "already used"])
def test_a_code_stripe_rejects_stores_nothing(client, standin, monkeypatch, code):
    if code == "expired":
        monkeypatch.setattr(standin.store, "code_ttl", -1)
    company = unique("co-badcode")
    admin, query = started(client, company)
    if code == "already used":
        standin.store.redeem_code(query["code"])  # someone exchanged it first
    page = admin.back_from_stripe(query)
    assert (page.status_code, page_id(page)) == (400, "code_rejected")
    assert accounts_of(client, company) == []


def test_stripe_unreachable_during_the_exchange_stores_nothing(client, monkeypatch):
    company = unique("co-down")
    admin, query = started(client, company)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{closed}")
    wiring.reset()
    page = admin.back_from_stripe(query)
    assert (page.status_code, page_id(page)) == (503, "stripe_unavailable")
    assert b"Traceback" not in page.body
    assert accounts_of(client, company) == []


def test_an_account_connected_to_another_company_is_refused_and_left_with_it(client, standin):
    owner, other = unique("co-owner"), unique("co-other")
    email = f"{owner}@example.com"
    connect(client, owner, email)
    [account] = accounts_of(client, owner)
    page = connect(client, other, email)  # the same Stripe account, for another company
    assert (page.status_code, page_id(page)) == (409, "account_taken")
    assert accounts_of(client, other) == []
    assert accounts_of(client, owner) == [account]
    assert standin.store.is_connected(account["account_id"])  # the owner keeps it


def test_an_account_another_company_disconnected_is_refused_and_not_left_attached(client, standin):
    owner, other = unique("co-gone"), unique("co-taker")
    email = f"{owner}@example.com"
    connect(client, owner, email)
    [account] = accounts_of(client, owner)
    platform(client, "DELETE", f"/companies/{owner}/accounts/{account['account_id']}")
    page = connect(client, other, email)
    assert (page.status_code, page_id(page)) == (409, "account_taken")
    assert accounts_of(client, other) == []
    assert accounts_of(client, owner)[0]["status"] == "disconnected"
    assert not standin.store.is_connected(account["account_id"])


def test_a_failure_page_follows_the_browsers_language_when_the_link_is_unknown(client):
    response = Admin(client, accept_language="fr-FR,fr;q=0.9,en;q=0.5").open(f"{BASE}/connect/x")
    assert response.status_code == 404 and b'lang="fr"' in response.body
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_without_a_client_id_the_admin_is_told_it_is_not_set_up(client, aws, monkeypatch):
    ssm = aws.client("ssm")
    name = f"/{SERVICE}/stripe-client-id"
    ssm.delete_parameter(Name=name)
    try:
        wiring.reset()
        link = new_link(client, "co_1")
        response = Admin(client).open(link)
        assert (response.status_code, page_id(response)) == (503, "not_configured")
    finally:
        ssm.put_parameter(Name=name, Value="ca_http", Type="SecureString", Overwrite=True)
        wiring.reset()
    assert Admin(client).open(link).status_code == 302  # the link was kept


# --- disconnecting -------------------------------------------------------------------------


def test_disconnecting_revokes_access_and_keeps_the_history(client, standin):
    company = unique("co-bye")
    connect(client, company, f"{company}@example.com")
    [account] = accounts_of(client, company)
    path = f"/companies/{company}/accounts/{account['account_id']}"
    assert platform(client, "DELETE", path, token=None)[0] == 401
    status, gone = platform(client, "DELETE", path)
    assert status == 200 and gone["status"] == "disconnected" and gone["disconnected_at"]
    assert not standin.store.is_connected(account["account_id"])
    events = standin.store.event_records(account=account["account_id"])
    assert "account.application.deauthorized" in [e["event"]["type"] for e in events]
    assert platform(client, "DELETE", path) == (200, gone)  # idempotent
    assert accounts_of(client, company) == [gone]


def test_disconnecting_an_account_the_holder_already_revoked_still_marks_it(client, standin):
    company = unique("co-revoked")
    connect(client, company, f"{company}@example.com")
    [account] = accounts_of(client, company)
    # The holder revoked access in their dashboard; Stripe's event has not arrived yet.
    standin.store.disconnect_account(account["account_id"], deliver=False)
    status, gone = platform(
        client, "DELETE", f"/companies/{company}/accounts/{account['account_id']}"
    )
    assert (status, gone["status"]) == (200, "disconnected")


@pytest.mark.parametrize("event_first", [True, False])
def test_the_deauthorized_event_and_the_request_end_alike_in_either_order(client, event_first):
    company = unique("co-order")
    connect(client, company, f"{company}@example.com")
    [account] = accounts_of(client, company)
    path = f"/companies/{company}/accounts/{account['account_id']}"
    store = wiring.account_store()
    if event_first:  # what the consumer does with account.application.deauthorized
        store.mark_disconnected(account["account_id"], wiring.now())
    assert platform(client, "DELETE", path)[0] == 200
    if not event_first:
        store.mark_disconnected(account["account_id"], wiring.now())
    [end] = accounts_of(client, company)
    assert end == {**account, "status": "disconnected", "disconnected_at": end["disconnected_at"]}


def test_disconnecting_another_companys_or_an_unknown_account_is_not_found(client, standin):
    owner = unique("co-mine")
    connect(client, owner, f"{owner}@example.com")
    [account] = accounts_of(client, owner)
    for path in (
        f"/companies/co-thief/accounts/{account['account_id']}",
        f"/companies/{owner}/accounts/acct_unknown0000",
    ):
        assert platform(client, "DELETE", path)[0] == 404
    status, answer = platform(client, "DELETE", f"/companies/{owner}/accounts/cus_123")
    assert (status, answer["error"]["field"]) == (400, "account_id")
    assert standin.store.is_connected(account["account_id"])


def test_listing_accounts_needs_the_token_and_is_empty_for_a_new_company(client):
    assert platform(client, "GET", "/companies/co-new/accounts", token=None)[0] == 401
    assert accounts_of(client, unique("co-new")) == []
