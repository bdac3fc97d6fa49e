"""An admin opens the webhook overview from an admin link in a real browser, on the running
local stack: creates the endpoint with the button, pastes a secret, and sees the health turn
green once a signed delivery arrives. In English (the link's locale) and in French (the
browser's language)."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import screenshot
from tests.browser.test_connect_in_a_browser import connect_link
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

TEXTS = {
    "en": {"title": "Stripe webhooks of", "copied": "Copied", "verified": "signature verified"},
    "fr": {"title": "Webhooks Stripe de", "copied": "Copié", "verified": "signature vérifiée"},
}


@pytest.fixture
def admin_browser(chromium, request):
    """A context in the admin's language, allowed to use the clipboard (the copy buttons)."""
    lang = request.param
    context = chromium.new_context(
        locale="fr-FR" if lang == "fr" else "en-US",
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.csp_violations = []
    page.on(
        "console",
        lambda message: (
            page.csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    try:
        yield lang, page
    finally:
        context.close()


def connect_in_browser(stack, page, company: str) -> str:
    page.goto(connect_link(stack, company, company_name="Acme"))
    page.click("#continue")
    page.click("#connect")
    page.wait_for_selector("main#connected")
    return page.inner_text("#account-id")


def pay(stack, company: str) -> None:
    """A customer pays an invoice: the account's events go out to its endpoints."""
    started = stack.start_payment(company=company)
    stack.standin(f"/payment_intents/{started['payment_intent_id']}/pay", {"method": "card"})


def reload_until(page, check, what: str, timeout: float = 30):
    def reloaded():
        page.reload()
        page.wait_for_selector("main#webhook_overview")
        return check()

    return wait_until(reloaded, timeout, what, interval=0.5)


@pytest.mark.parametrize("admin_browser", ["en", "fr"], indirect=True)
def test_the_admin_creates_the_endpoint_pastes_a_secret_and_sees_it_work(stack, admin_browser):
    lang, page = admin_browser
    texts = TEXTS[lang]
    company = f"overview-{lang}-{uuid.uuid4().hex[:8]}"
    account_id = connect_in_browser(stack, page, company)
    # English from the link's own locale; French from the browser's Accept-Language.
    body = {"locale": "en"} if lang == "en" else {}
    status, link = stack.platform("POST", f"/companies/{company}/admin-links", body)
    assert status == 201, link
    mine = f"section[id='{account_id}']"

    page.goto(link["url"])
    page.wait_for_selector("main#webhook_overview")
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.title().startswith(texts["title"])
    assert page.get_attribute(f"{mine} .health", "data-healthy") == "false"
    webhook_url = page.inner_text(f"#{account_id}-webhook-url")
    assert webhook_url == f"{stack.api}/webhooks/stripe/{account_id}"
    copy = page.locator(f"{mine} button.copy").first
    copy.click()
    page.wait_for_function(
        "([button, text]) => button.textContent === text",
        arg=[copy.element_handle(), texts["copied"]],
    )
    assert page.evaluate("navigator.clipboard.readText()") == webhook_url
    screenshot(page, f"overview-{lang}-0-opened")

    # "Create it for me": the endpoint exists at Stripe, with the right URL and events.
    page.click(f"{mine} button.create-endpoint")
    page.wait_for_selector("#notice")
    problems = page.locator(f"{mine} [data-problem]").evaluate_all(
        "items => items.map(item => item.dataset.problem)"
    )
    assert problems == ["no_delivery_yet"]
    endpoint_id = page.inner_text(f"{mine} .endpoint code")
    screenshot(page, f"overview-{lang}-1-endpoint-created")

    # The commonest mistake: the secret of another endpoint pasted over the right one.
    page.fill(f"{mine} input.secret-input", "whsec_of_another_endpoint_0123456789")
    page.click(f"{mine} button.save-secret")
    page.wait_for_selector("#notice")
    pay(stack, company)
    reload_until(
        page,
        lambda: page.inner_text(f"{mine} .refused") != "0",
        "a refused delivery to show",
    )
    assert page.get_attribute(f"{mine} .health", "data-healthy") == "false"
    assert page.locator(f"{mine} [data-problem='last_delivery_refused']").count() == 1
    screenshot(page, f"overview-{lang}-2-refused")

    # The right secret, revealed in the Stripe dashboard, pasted; the next delivery verifies.
    secret = stack.standin(f"/webhook_endpoints/{endpoint_id}/secret", method="GET")["secret"]
    page.fill(f"{mine} input.secret-input", secret)
    page.click(f"{mine} button.save-secret")
    page.wait_for_selector("#notice")
    assert secret not in page.content()  # shown back as whsec_…last four only
    assert f"whsec_…{secret[-4:]}" in page.inner_text(f"{mine} .secrets")
    pay(stack, company)
    reload_until(
        page,
        lambda: page.get_attribute(f"{mine} .health", "data-healthy") == "true",
        "the webhook health to turn green",
    )
    assert texts["verified"] in page.inner_text(f"{mine} .last-event")
    screenshot(page, f"overview-{lang}-3-healthy")
    assert page.csp_violations == []

    status, listed = stack.platform("GET", f"/companies/{company}/accounts")
    [account] = listed["accounts"]
    assert account["webhook"]["health"]["healthy"] is True
    assert account["webhook"]["health"]["refused_last_24h"] >= 1
