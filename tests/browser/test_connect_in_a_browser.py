"""An admin follows a connect link in a real browser, on the running local stack."""

from __future__ import annotations

import uuid

import pytest

from local.stack import SERVICE_NAME
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def connect_link(stack, company: str, **body) -> str:
    status, answer = stack.platform("POST", f"/companies/{company}/connect-links", body)
    assert status == 201, answer
    return answer["url"]


def accounts_of(stack, company: str) -> list[dict]:
    status, answer = stack.platform("GET", f"/companies/{company}/accounts")
    assert status == 200, answer
    return answer["accounts"]


def state_cookies(page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == "stripe_connect_state"]


def test_the_admin_follows_the_link_clicks_connect_and_the_account_is_stored(stack, page):
    company = f"browser-{uuid.uuid4().hex[:8]}"
    link = connect_link(
        stack, company, email=f"{company}@example.com", connected_by="admin-7", company_name="Acme"
    )

    # The link opens a page of the service: nothing is spent until the admin presses Continue.
    page.goto(link)
    page.wait_for_selector("main#connect_link")
    assert page.inner_text("#company") == "Acme"
    assert page.inner_text("#email") == f"{company}@example.com"
    assert state_cookies(page) == []
    screenshot(page, "0-connect-link")
    page.click("#continue")
    page.wait_for_selector("#connect")
    assert page.url.startswith(f"{stack.stripe}/oauth/authorize?")
    [cookie] = state_cookies(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/connect/oauth/callback"
    screenshot(page, "1-stripe-consent")

    page.click("#connect")
    page.wait_for_selector("main#connected")
    assert page.url.startswith(f"{stack.api}/connect/oauth/callback?")
    assert page.title() == "Your Stripe account is connected"
    account_id = page.inner_text("#account-id")
    webhook_url = page.inner_text("#webhook-url")
    assert webhook_url == f"{stack.api}/webhooks/stripe/{account_id}"
    assert "payment_intent.succeeded" in page.inner_text("#webhook-events")
    screenshot(page, "2-connected")
    # The page's only style is allowed by its policy: the browser reported no violation.
    assert page.csp_violations == []
    assert state_cookies(page) == []

    [listed] = accounts_of(stack, company)
    assert (listed["account_id"], listed["status"], listed["connected_by"]) == (
        account_id,
        "connected",
        "admin-7",
    )
    item = stack.client("dynamodb").get_item(
        TableName=f"{SERVICE_NAME}-accounts", Key={"account_id": {"S": account_id}}
    )["Item"]
    assert item["company_id"]["S"] == company and item["status"]["S"] == "connected"

    # The link was single use: opening it again shows why, in a page of its own.
    assert page.csp_violations == []  # the form's post and Stripe's redirect were allowed
    page.goto(link)
    page.wait_for_selector("main#link_used")
    screenshot(page, "3-link-used")


def test_the_admin_clicks_deny_and_nothing_is_connected(stack, page):
    company = f"browser-{uuid.uuid4().hex[:8]}"
    page.goto(connect_link(stack, company, locale="fr"))
    page.wait_for_selector("main#connect_link")
    page.click("text=Continuer vers Stripe")
    page.wait_for_selector("#deny")
    page.click("#deny")
    page.wait_for_selector("main#access_denied")
    assert page.title() == "Vous avez refusé la connexion"
    screenshot(page, "4-denied-fr")
    assert page.csp_violations == []
    assert accounts_of(stack, company) == []


def test_a_link_page_opened_by_a_scanner_leaves_the_link_to_the_admin(stack, page, chromium):
    company = f"browser-{uuid.uuid4().hex[:8]}"
    link = connect_link(stack, company)
    scanner = chromium.new_context()
    try:
        scanned = scanner.new_page()
        scanned.goto(link)
        scanned.wait_for_selector("main#connect_link")  # it reads the page, presses nothing
    finally:
        scanner.close()
    page.goto(link)
    page.click("#continue")
    page.wait_for_selector("#connect")
    assert page.url.startswith(f"{stack.stripe}/oauth/authorize?")
