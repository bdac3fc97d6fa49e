"""Connecting a Stripe account through the HTTP API (chalice.test.Client), against moto and the
Stripe stand-in through the real SDK: the link's page and its form, the redirect, the callback,
every failure, and what the platform is told on its bus."""

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
from chalicelib.services.repair import QueuedEvent
from tests.http.conftest import SERVICE, TOKEN, signed, stripe_event

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
    """One admin's browser: its cookies (by name) for the service's paths."""

    def __init__(self, client: Client, accept_language: str | None = None) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.accept_language = accept_language

    @property
    def cookie(self) -> str | None:
        return self.cookies.get("stripe_connect_state")

    @cookie.setter
    def cookie(self, value: str) -> None:
        self.cookies["stripe_connect_state"] = value

    def view(self, link_url: str):
        """Only reads the link's page, as a mail scanner or a link preview does."""
        return self._keep(self.client.http.get(urlsplit(link_url).path, headers=self._headers()))

    def press_continue(self, link_url: str, token: str | None):
        headers = {**self._headers(), "Content-Type": "application/x-www-form-urlencoded"}
        body = urlencode({"csrf_token": token}) if token is not None else ""
        response = self.client.http.post(urlsplit(link_url).path, headers=headers, body=body)
        return self._keep(response)

    def open(self, link_url: str):
        """Reads the link's page and presses "Continue to Stripe"."""
        page = self.view(link_url)
        if page.status_code != 200:
            return page
        return self.press_continue(link_url, csrf_token(page))

    def back_from_stripe(self, query: dict[str, str]):
        path = f"/connect/oauth/callback?{urlencode(query)}"
        return self.client.http.get(path, headers=self._headers())

    def _keep(self, response):
        set_cookie = response.headers.get("Set-Cookie")
        if set_cookie:
            name, value = set_cookie.split(";")[0].split("=", 1)
            self.cookies[name] = value
        return response

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items() if v)
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        return headers


def csrf_token(page) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page.body)
    assert found, page.body
    return found.group(1).decode()


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


@pytest.fixture
def told(aws, outputs):
    """What the platform hears on the bus about a company during the test, as a queue
    subscribed to the bus would."""
    sqs, events = aws.client("sqs"), aws.client("events")
    bus, name = outputs["NotificationsBusName"], unique("inbox")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    pattern = json.dumps({"source": ["stripe-bridge"]})
    events.put_rule(Name=name, EventBusName=bus, EventPattern=pattern)
    events.put_targets(
        Rule=name, EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn["QueueArn"]}]
    )

    def read(company: str) -> list[dict]:
        received = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages"):
            received += [json.loads(m["Body"]) for m in batch]
        mine = [n for n in received if n["detail"].get("company_id") == company]
        return sorted(mine, key=lambda n: (n["detail"]["occurred_at"], n["detail"]["type"]))

    yield read
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["inbox"])
    events.delete_rule(Name=name, EventBusName=bus)
    sqs.delete_queue(QueueUrl=url)


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


def test_a_scanner_reading_a_link_spends_nothing(client):
    link = new_link(client, unique("co-scanned"), email="owner@example.com")
    for _ in range(3):  # a mail scanner, a link preview, the admin's first look
        Admin(client).view(link)
    admin = Admin(client)
    assert admin.open(link).status_code == 302  # the admin still gets to Stripe, once
    assert page_id(Admin(client).view(link)) == "link_used"


def test_opening_a_link_shows_who_it_is_for_and_spends_nothing(client):
    company = unique("co-shown")
    link = new_link(client, company, email="owner@example.com", company_name="Acme <Ltd>")
    page = Admin(client).view(link)
    assert (page.status_code, page_id(page)) == (200, "connect_link")
    html = page.body.decode()
    assert "Acme &lt;Ltd&gt;" in html and "owner@example.com" in html
    assert f'<form method="post" action="{urlsplit(link).geturl()}">' in html
    assert "<script" not in html
    policy = page.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'") and "script-src" not in policy
    assert "form-action https://bridge.example.com http://127.0.0.1:" in policy
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    cookie = [a.strip() for a in page.headers["Set-Cookie"].split(";")]
    assert cookie[0] == f"stripe_connect_csrf={csrf_token(page)}"
    assert cookie[2:] == [f"Path={urlsplit(link).path}", "HttpOnly", "SameSite=Strict", "Secure"]
    # Nothing was spent: the admin can still continue, once.
    admin = Admin(client)
    assert admin.open(link).status_code == 302
    assert (Admin(client).view(link).status_code, page_id(Admin(client).view(link))) == (
        410,
        "link_used",
    )


def test_the_link_page_falls_back_to_the_company_id_and_speaks_french(client):
    company = unique("co-page")
    page = Admin(client).view(new_link(client, company, locale="fr"))
    body = page.body.decode()
    assert 'lang="fr"' in body and "Continuer vers Stripe" in body and company in body


@pytest.mark.parametrize(
    "forgery", ["no token", "wrong token", "token without its cookie", "cookie of another link"]
)
def test_continuing_without_the_pages_token_is_refused_and_spends_nothing(client, forgery):
    company = unique("co-csrf-form")
    link = new_link(client, company)
    admin = Admin(client)
    token = csrf_token(admin.view(link))
    if forgery == "no token":
        answer = admin.press_continue(link, None)
    elif forgery == "wrong token":
        answer = admin.press_continue(link, "x" * len(token))
    elif forgery == "token without its cookie":
        answer = Admin(client).press_continue(link, token)  # a page elsewhere posting the form
    else:
        other = Admin(client)
        other_token = csrf_token(other.view(new_link(client, company)))
        other.cookies["stripe_connect_csrf"] = other_token
        answer = other.press_continue(link, other_token)
    assert (answer.status_code, page_id(answer)) == (403, "csrf_failed")
    assert (
        "Set-Cookie" not in answer.headers
        or "stripe_connect_state" not in (answer.headers["Set-Cookie"])
    )
    assert admin.press_continue(link, token).status_code == 302  # the link is still usable


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
    webhook = account["webhook"]
    assert (webhook["url"], webhook["enabled_events"]) == (
        f"{BASE}/webhooks/stripe/{account_id}",
        list(HANDLED_EVENT_TYPES),
    )
    assert webhook["health"]["problems"] == [
        "endpoint_missing",
        "no_signing_secret",
        "no_delivery_yet",
    ]
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
    assert status == 200 and not standin.store.has_access(account["account_id"])
    assert connect(client, company, email).status_code == 200
    [back] = accounts_of(client, company)
    assert (back["account_id"], back["status"]) == (account["account_id"], "connected")
    assert back["disconnected_at"] is None and back["connected_at"] > account["connected_at"]
    assert standin.store.has_access(account["account_id"])


def test_a_leaked_link_cannot_attach_a_second_account_to_the_company(client, standin, told):
    company = unique("co-leak")
    connect(client, company, f"owner-{company}@example.com")
    [owner] = accounts_of(client, company)
    # The next link reaches someone else (forwarded, leaked), who connects their own account.
    page = connect(client, company, f"intruder-{company}@example.com")
    assert (page.status_code, page_id(page)) == (409, "another_account_active")
    assert accounts_of(client, company) == [owner]  # still the one active account
    intruder = standin.store.find_account_by_email(f"intruder-{company}@example.com")
    assert not standin.store.has_access(intruder["id"])  # the grant was revoked
    assert standin.store.has_access(owner["account_id"])
    status, payment = platform(
        client,
        "POST",
        "/payments",
        {
            "company_id": company,
            "amount": 500,
            "currency": "usd",
            "invoices": [{"invoice_id": "INV-1", "amount": 500}],
        },
    )
    assert status == 201 and payment["account_id"] == owner["account_id"]
    # The platform was told of the connection, and of nothing else.
    assert [(n["detail-type"], n["detail"]["account_id"]) for n in told(company)] == [
        ("account.connected", owner["account_id"])
    ]


def test_a_replace_link_from_the_platform_moves_the_company_and_says_so(client, standin, told):
    company = unique("co-move")
    connect(client, company, f"old-{company}@example.com")
    [old] = accounts_of(client, company)
    page = connect(client, company, f"new-{company}@example.com", replace=True)
    assert (page.status_code, page_id(page)) == (200, "connected")
    assert old["account_id"].encode() in page.body  # "it replaces the account …"
    new, replaced = accounts_of(client, company)
    assert (new["status"], replaced["status"]) == ("connected", "replaced")
    assert replaced["account_id"] == old["account_id"]
    assert replaced["replaced_by"] == new["account_id"] and replaced["replaced_at"]
    assert standin.store.has_access(old["account_id"])  # its payments are still repaired
    notices = told(company)
    assert [(n["detail-type"], n["detail"]["notification_id"]) for n in notices] == [
        ("account.connected", f"{old['account_id']}.v1"),
        ("account.connected", f"{new['account_id']}.v1"),
        ("account.replaced", f"{old['account_id']}.v2"),
    ]
    assert notices[-1]["source"] == "stripe-bridge"
    assert notices[-1]["detail"]["replaced_by"] == new["account_id"]


def test_a_payment_started_on_a_replaced_account_is_still_repaired(client, standin):
    company = unique("co-handover")
    connect(client, company, f"old-{company}@example.com")
    [old] = accounts_of(client, company)
    invoices = [{"invoice_id": "INV-7", "amount": 900}]
    body = {"company_id": company, "amount": 900, "currency": "usd", "invoices": invoices}
    status, payment = platform(client, "POST", "/payments", body)
    assert status == 201 and payment["account_id"] == old["account_id"]
    connect(client, company, f"new-{company}@example.com", replace=True)
    # The customer pays after the handover; Stripe's event comes from the old account.
    request = urllib.request.Request(
        f"{standin.url}/_standin/payment_intents/{payment['payment_intent_id']}/pay",
        data=json.dumps({"method": "card"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    [succeeded] = [
        r["event"]
        for r in standin.store.event_records(account=old["account_id"])
        if r["event"]["type"] == "payment_intent.succeeded"
    ]
    wiring.repairer().handle(QueuedEvent.from_body(json.dumps(succeeded)))
    status, repaired = platform(client, "GET", f"/payments/{payment['payment_id']}")
    assert (status, repaired["status"], repaired["amount_received"]) == (200, "succeeded", 900)
    # New payments go to the new account.
    status, later = platform(client, "POST", "/payments", body)
    assert later["account_id"] != old["account_id"]


def test_a_link_page_says_when_it_replaces_the_companys_account(client):
    page = Admin(client).view(new_link(client, unique("co-replace"), replace=True))
    assert b'id="replaces"' in page.body
    status, answer = platform(
        client, "POST", "/companies/co_1/connect-links", {"replace": "please"}
    )
    assert (status, answer["error"]["field"]) == (400, "replace")


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


@pytest.mark.parametrize("stranger_cookie", [None, "the-cookie-of-another-flow"])
def test_a_state_and_code_seen_in_another_browser_are_spent(client, standin, stranger_cookie):
    company = unique("co-csrf")
    admin, query = started(client, company, f"{company}@example.com")
    stranger = Admin(client)
    if stranger_cookie:
        stranger.cookie = stranger_cookie
    page = stranger.back_from_stripe(query)
    assert (page.status_code, page_id(page)) == (403, "state_mismatch")
    # The state was exposed with a code: its owner cannot replay it later either.
    replay = admin.back_from_stripe(query)
    assert (replay.status_code, page_id(replay)) == (409, "state_used")
    assert accounts_of(client, company) == []


def test_a_callback_from_another_browser_without_a_code_spends_nothing(client):
    company = unique("co-nocode")
    admin, query = started(client, company)
    stranger = Admin(client)
    without_code = {k: v for k, v in query.items() if k != "code"}
    assert page_id(stranger.back_from_stripe(without_code)) == "state_mismatch"
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
    # Both states were exposed with a code: spent. A fresh flow of the attacker's only ever
    # reaches the attacker's company, whatever the query says.
    assert page_id(attacker.back_from_stripe(attacker_query)) == "state_used"
    attacker, attacker_query = started(client, attacker_company, f"{attacker_company}@x.io")
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
    assert standin.store.has_access(account["account_id"])


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
    assert standin.store.has_access(account["account_id"])  # the owner keeps it


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
    assert not standin.store.has_access(account["account_id"])


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
    assert not standin.store.has_access(account["account_id"])
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


def deauthorized_event(standin, account_id: str) -> QueuedEvent:
    """Stripe's account.application.deauthorized for the account, as the consumer gets it."""
    [record] = [
        r
        for r in standin.store.event_records(account=account_id)
        if r["event"]["type"] == "account.application.deauthorized"
    ][-1:]
    return QueuedEvent.from_body(json.dumps(record["event"]))


@pytest.mark.parametrize("event_first", [True, False])
def test_the_deauthorized_event_and_the_request_end_alike_and_are_told_once(
    client, standin, told, event_first
):
    company = unique("co-order")
    connect(client, company, f"{company}@example.com")
    [account] = accounts_of(client, company)
    account_id = account["account_id"]
    path = f"/companies/{company}/accounts/{account_id}"
    if event_first:  # the holder revoked access in their dashboard; the consumer gets the event
        standin.store.disconnect_account(account_id, deliver=False)
        wiring.repairer().handle(deauthorized_event(standin, account_id))
    assert platform(client, "DELETE", path)[0] == 200
    # The event of the platform's own revocation, or a redelivery of the holder's.
    wiring.repairer().handle(deauthorized_event(standin, account_id))
    [end] = accounts_of(client, company)
    # Its webhook is no longer checked at Stripe: the platform has no access left.
    assert end["webhook"].pop("health")["problems"][0] == "not_connected"
    del account["webhook"]["health"]
    gone = {"status": "disconnected", "at": end["disconnected_at"]}
    assert end == {
        **account,
        "status": "disconnected",
        "disconnected_at": end["disconnected_at"],
        "history": [*account["history"], gone],
    }
    notices = [(n["detail-type"], n["detail"]["notification_id"]) for n in told(company)]
    assert notices == [
        ("account.connected", f"{account_id}.v1"),
        ("account.disconnected", f"{account_id}.v2"),
    ]


def test_signing_secrets_are_stored_sealed_and_only_for_their_account(client, aws, outputs):
    owner, other = unique("co-sealed"), unique("co-thief")
    for company in (owner, other):
        connect(client, company, f"{company}@example.com")
    [owner_account], [other_account] = accounts_of(client, owner), accounts_of(client, other)
    secret = "whsec_" + uuid.uuid4().hex
    for account in (owner_account, other_account):
        body = {"signing_secrets": [secret if account is owner_account else "whsec_" + "o" * 32]}
        status, _ = platform(client, "PUT", f"/accounts/{account['account_id']}/webhook", body)
        assert status == 200
    # Read as someone with access to the table would: no secret in the item, none in the index.
    item = stored_item(aws, outputs, owner_account["account_id"])
    assert "whsec_" not in json.dumps(item) and item["webhook_secrets_sealed"]["L"]
    index = aws.client("dynamodb").query(
        TableName=outputs["AccountsTableName"],
        IndexName="by_company",
        KeyConditionExpression="company_id = :c",
        ExpressionAttributeValues={":c": {"S": owner}},
    )["Items"]
    assert [set(i) for i in index] == [{"account_id", "company_id", "connected_at"}]

    def deliver(account_id: str):
        event = json.dumps({**stripe_event(), "account": account_id})
        headers = {"Stripe-Signature": signed(event, secret), "Content-Type": "application/json"}
        return client.http.post(f"/webhooks/stripe/{account_id}", headers=headers, body=event)

    assert deliver(owner_account["account_id"]).status_code == 200
    # The owner's sealed secret copied into the other account's item opens for no one there.
    aws.client("dynamodb").update_item(
        TableName=outputs["AccountsTableName"],
        Key={"account_id": {"S": other_account["account_id"]}},
        UpdateExpression="SET webhook_secrets_sealed = :s",
        ExpressionAttributeValues={":s": item["webhook_secrets_sealed"]},
    )
    wiring.reset()  # a fresh container, nothing opened yet
    refused = deliver(other_account["account_id"])
    assert refused.status_code == 400
    assert json.loads(refused.body)["error"]["code"] == "bad_signature"


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
    assert standin.store.has_access(account["account_id"])


def test_listing_accounts_needs_the_token_and_is_empty_for_a_new_company(client):
    assert platform(client, "GET", "/companies/co-new/accounts", token=None)[0] == 401
    assert accounts_of(client, unique("co-new")) == []
