"""The webhook overview an admin link opens, through the HTTP API (chalice.test.Client) against
moto and the Stripe stand-in: the link, the page, its two forms and the account's health."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import stripe
from chalice.test import Client

import app as service
from chalicelib import wiring
from chalicelib.adapters.stripe_api import API_VERSION
from chalicelib.adapters.webhook_health import DynamoWebhookHealth
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from tests.http.conftest import STRIPE_KEY, TOKEN, connect_account, signed, stripe_event

BASE = "https://bridge.example.com"
PASTED = "whsec_pasted_by_the_admin_0123456789"


@pytest.fixture
def client(tmp_path: Path):
    with Client(service.app, project_dir=str(tmp_path)) as test_client:
        yield test_client


@pytest.fixture
def company(standin) -> tuple[str, str]:
    """A company with one account connected on both sides."""
    suffix = uuid.uuid4().hex[:10]
    company_id = f"co_{suffix}"
    return company_id, connect_account(standin, f"acct_{suffix}", company_id)


def platform(client, method: str, path: str, body=None, token: str = TOKEN):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    answer = getattr(client.http, method.lower())(
        path, headers=headers, body=json.dumps(body) if body is not None else b""
    )
    return answer.status_code, json.loads(answer.body)


def admin_link(client, company_id: str, **body) -> str:
    status, answer = platform(client, "POST", f"/companies/{company_id}/admin-links", body)
    assert status == 201, answer
    return answer["url"]


class Browser:
    """One admin's browser: the overview's cookie, and the token its forms carry."""

    def __init__(self, client: Client, accept_language: str | None = None) -> None:
        self.client = client
        self.cookie: str | None = None
        self.accept_language = accept_language

    def open(self, url: str):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Accept-Language": self.accept_language} if self.accept_language else {}
        page = self.client.http.get(path, headers=headers)
        if "Set-Cookie" in page.headers:
            self.cookie = page.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
        return page

    def press(self, page, action: str, account_id: str, token: str | None = "from-page", **more):
        html = page.body.decode()
        token = (
            re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
            if token == "from-page"
            else token
        )
        form = urlsplit(
            re.search(rf'action="([^"]+/accounts/{account_id}/{action})"', html)[1]
        ).path
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.cookie:
            headers["Cookie"] = f"stripe_bridge_admin_csrf={self.cookie}"
        fields = {"csrf_token": token, **more} if token is not None else more
        return self.client.http.post(form, headers=headers, body=urlencode(fields))


def section(page, account_id: str) -> str:
    html = page.body.decode()
    return re.search(rf'<section class="account" id="{account_id}">(.*?)</section>', html, re.S)[1]


def endpoints_at_stripe(standin, account_id: str) -> list[dict]:
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": standin.url})
    listed = client.v1.webhook_endpoints.list(options={"stripe_account": account_id})
    return [e.to_dict() for e in listed.data]


def deliver(client, account_id: str, secret: str) -> int:
    event = stripe_event()
    del event["account"]
    body = json.dumps(event)
    answer = client.http.post(
        f"/webhooks/stripe/{account_id}",
        headers={"Stripe-Signature": signed(body, secret), "Content-Type": "application/json"},
        body=body,
    )
    return answer.status_code


def stored_secret(account_id: str) -> str:
    [secret] = list(wiring.account_store().get(account_id).webhook_secrets)[:1]
    return secret


def test_an_admin_link_is_for_the_platform_only_and_says_when_it_expires(client, company):
    company_id, _ = company
    status, _ = platform(client, "POST", f"/companies/{company_id}/admin-links", {}, token="x")
    assert status == 401
    status, answer = platform(client, "POST", f"/companies/{company_id}/admin-links", {})
    assert status == 201
    assert answer["company_id"] == company_id and answer["expires_at"]
    assert answer["url"].startswith(f"{BASE}/admin/")
    status, answer = platform(
        client, "POST", f"/companies/{company_id}/admin-links", {"email": "a@b.example"}
    )
    assert (status, answer["error"]["field"]) == (400, "email")


def test_the_overview_shows_the_accounts_url_events_and_what_is_missing(client, company):
    company_id, account_id = company
    page = Browser(client).open(admin_link(client, company_id))
    assert page.status_code == 200
    html = page.body.decode()
    assert '<main id="webhook_overview"' in html and 'lang="en"' in html
    mine = section(page, account_id)
    assert f"{BASE}/webhooks/stripe/{account_id}" in mine
    assert all(f"<code>{event}</code>" in mine for event in HANDLED_EVENT_TYPES)
    assert 'data-healthy="false"' in mine
    problems = re.findall(r'data-problem="([^"]+)"', mine)
    assert problems == ["endpoint_missing", "no_signing_secret", "no_delivery_yet"]
    # Its script (the copy buttons) and style are the only ones the policy lets run.
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'sha256-" in policy and "form-action https://bridge.example.com" in policy
    cookie = page.headers["Set-Cookie"]
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie
    assert "Path=/admin/" in cookie


def test_create_it_for_me_makes_the_endpoint_as_the_account_and_stores_its_secret(
    client, company, standin
):
    company_id, account_id = company
    browser = Browser(client)
    link = admin_link(client, company_id)
    answer = browser.press(browser.open(link), "endpoint", account_id)
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{link}?notice=endpoint_created#{account_id}"

    [endpoint] = endpoints_at_stripe(standin, account_id)
    assert endpoint["url"] == f"{BASE}/webhooks/stripe/{account_id}"
    assert sorted(endpoint["enabled_events"]) == sorted(HANDLED_EVENT_TYPES)
    assert endpoint["api_version"] == API_VERSION and endpoint["status"] == "enabled"
    secret = stored_secret(account_id)
    assert secret.startswith("whsec_")

    page = browser.open(answer.headers["Location"])
    assert 'id="notice"' in page.body.decode()
    mine = section(page, account_id)
    assert f"whsec_…{secret[-4:]}" in mine and secret not in page.body.decode()
    assert re.findall(r'data-problem="([^"]+)"', mine) == ["no_delivery_yet"]

    # A signed delivery turns the health green.
    assert deliver(client, account_id, secret) == 200
    mine = section(browser.open(link), account_id)
    assert 'data-healthy="true"' in mine and "signature verified" in mine

    # Pressing it again changes nothing.
    again = browser.press(browser.open(link), "endpoint", account_id)
    assert again.headers["Location"].endswith(f"?notice=endpoint_unchanged#{account_id}")
    assert endpoints_at_stripe(standin, account_id) == [endpoint]
    assert stored_secret(account_id) == secret


def test_an_endpoint_edited_by_hand_is_brought_back_in_line(client, company, standin):
    company_id, account_id = company
    browser = Browser(client)
    link = admin_link(client, company_id)
    browser.press(browser.open(link), "endpoint", account_id)
    [endpoint] = endpoints_at_stripe(standin, account_id)
    sdk = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": standin.url})
    sdk.v1.webhook_endpoints.update(
        endpoint["id"],
        {"url": "https://elsewhere.example/hook", "enabled_events": ["charge.succeeded"]},
        {"stripe_account": account_id},
    )
    sdk.v1.webhook_endpoints.update(
        endpoint["id"], {"disabled": True}, {"stripe_account": account_id}
    )
    mine = section(browser.open(link), account_id)
    problems = re.findall(r'data-problem="([^"]+)"', mine)
    assert problems[:3] == ["endpoint_wrong_url", "endpoint_wrong_events", "endpoint_disabled"]

    answer = browser.press(browser.open(link), "endpoint", account_id)
    assert answer.headers["Location"].endswith(f"?notice=endpoint_updated#{account_id}")
    [mended] = endpoints_at_stripe(standin, account_id)
    assert mended["id"] == endpoint["id"] and mended["status"] == "enabled"
    assert mended["url"] == f"{BASE}/webhooks/stripe/{account_id}"
    assert sorted(mended["enabled_events"]) == sorted(HANDLED_EVENT_TYPES)


def test_the_forms_work_only_from_the_page_in_the_same_browser(client, company, standin):
    company_id, account_id = company
    link = admin_link(client, company_id)
    page = Browser(client).open(link)
    stranger = Browser(client)  # never opened the page: no cookie
    assert stranger.press(page, "endpoint", account_id).status_code == 403
    forged = Browser(client)
    forged.open(link)
    refused = forged.press(
        page, "signing-secret", account_id, token="guessed", signing_secret=PASTED
    )
    assert refused.status_code == 403
    assert '<main id="admin_form_refused"' in refused.body.decode()
    assert endpoints_at_stripe(standin, account_id) == []
    assert list(wiring.account_store().get(account_id).webhook_secrets) == []


def test_a_link_acts_only_on_its_own_companys_accounts(client, company, standin):
    company_id, _ = company
    other_company, other_account = f"{company_id}-other", f"acct_x{uuid.uuid4().hex[:10]}"
    connect_account(standin, other_account, other_company)
    browser = Browser(client)
    page = browser.open(admin_link(client, company_id))
    assert other_account not in page.body.decode()
    html = page.body.decode().replace(company[1], other_account)
    page.body = html.encode()
    answer = browser.press(page, "endpoint", other_account)
    assert answer.status_code == 404 and b"admin_account_unknown" in answer.body
    assert endpoints_at_stripe(standin, other_account) == []


def test_a_pasted_secret_is_checked_sealed_and_never_shown_back_in_full(client, company):
    company_id, account_id = company
    browser = Browser(client)
    link = admin_link(client, company_id)
    bad = browser.press(browser.open(link), "signing-secret", account_id, signing_secret="nope")
    assert bad.headers["Location"].endswith(f"?notice=secret_invalid#{account_id}")
    assert list(wiring.account_store().get(account_id).webhook_secrets) == []

    good = browser.press(browser.open(link), "signing-secret", account_id, signing_secret=PASTED)
    assert good.headers["Location"].endswith(f"?notice=secret_saved#{account_id}")
    assert stored_secret(account_id) == PASTED
    page = browser.open(good.headers["Location"])
    assert PASTED not in page.body.decode() and "whsec_…6789" in page.body.decode()


def test_refused_deliveries_show_in_the_page_and_in_the_json(client, company):
    company_id, account_id = company
    browser = Browser(client)
    link = admin_link(client, company_id)
    browser.press(browser.open(link), "signing-secret", account_id, signing_secret=PASTED)
    assert deliver(client, account_id, PASTED) == 200
    # The commonest mistake: a secret of another endpoint.
    assert deliver(client, account_id, "whsec_of_another_endpoint_0123456789") == 400
    assert deliver(client, account_id, "whsec_of_another_endpoint_0123456789") == 400

    mine = section(browser.open(link), account_id)
    assert re.search(r'class="refused">2<', mine)
    assert "last_delivery_refused" in mine and "refused: bad signature" in mine

    status, listed = platform(client, "GET", f"/companies/{company_id}/accounts")
    assert status == 200
    [account] = listed["accounts"]
    health = account["webhook"]["health"]
    assert health["refused_last_24h"] == 2 and health["last_event_verified"] is False
    assert health["healthy"] is False and "last_delivery_refused" in health["problems"]
    assert health["last_verified_event_at"] and health["signing_secrets"] == ["whsec_…6789"]
    assert health["endpoint"]["exists"] is False


def test_a_health_store_that_fails_never_fails_a_delivery(client, company, monkeypatch, aws):
    company_id, account_id = company
    wiring.account_store().set_webhook_secrets(account_id, (PASTED,))
    broken = DynamoWebhookHealth(aws.client("dynamodb"), "no-such-table")
    monkeypatch.setattr(wiring, "webhook_health", lambda: broken)
    assert deliver(client, account_id, PASTED) == 200
    assert deliver(client, account_id, "whsec_of_another_endpoint_0123456789") == 400


def test_an_expired_or_unknown_link_shows_a_page_in_the_admins_language(
    client, company, monkeypatch
):
    company_id, _ = company
    monkeypatch.setenv("ADMIN_LINK_TTL_MINUTES", "0")
    wiring.reset()
    expired = Browser(client, accept_language="fr-FR,fr;q=0.9").open(admin_link(client, company_id))
    assert expired.status_code == 410
    html = expired.body.decode()
    assert 'lang="fr"' in html and "Ce lien a expiré" in html and "Traceback" not in html
    unknown = Browser(client).open(f"{BASE}/admin/not-a-link")
    assert unknown.status_code == 404 and b'<main id="admin_link_unknown"' in unknown.body


def test_the_overview_speaks_french_when_the_link_asks(client, company):
    company_id, account_id = company
    page = Browser(client).open(admin_link(client, company_id, locale="fr", company_name="Acmé"))
    html = page.body.decode()
    assert 'lang="fr"' in html and "Webhooks Stripe de Acmé" in html
    assert "Le créer pour moi" in section(page, account_id)
    assert "Enregistrer le secret" in section(page, account_id)


def test_a_slow_health_store_delays_a_delivery_a_quarter_second_at_most(
    client, company, monkeypatch, queue
):
    company_id, account_id = company
    wiring.account_store().set_webhook_secrets(account_id, (PASTED,))

    class Stalled:
        def record(self, *args) -> None:
            time.sleep(3)

    monkeypatch.setattr(wiring, "webhook_health", lambda: Stalled())
    started = time.monotonic()
    assert deliver(client, account_id, PASTED) == 200
    assert time.monotonic() - started < 2
    assert len(queue()) == 1  # queued all the same
