"""The platform API: bearer token, validation that changes nothing, the webhook overview."""

import json
import urllib.request

import pytest
import stripe

from chalicelib import wiring
from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from local.apigw import invoke
from tests.http.conftest import STRIPE_KEY, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def start(body, headers=AUTH):
    return invoke("POST", "/payments", json.dumps(body), headers)


def valid(company="co_api", **changes):
    return {
        "company_id": company,
        "amount": 1200,
        "currency": "eur",
        "invoices": [{"invoice_id": "INV-7", "amount": 1200}],
        **changes,
    }


@pytest.fixture
def connected(standin):
    """A company whose account is connected on both sides."""
    request = urllib.request.Request(
        f"{standin.url}/_standin/accounts",
        data=json.dumps({"id": "acct_1Api"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()
    wiring.account_store().put(ConnectedAccount("acct_1Api", "co_api", False, "2026-11-29T00:00Z"))
    return "acct_1Api"


def intents_on(standin, account):
    """Every PaymentIntent that exists on the account in the stand-in."""
    [holder] = [a for a in standin.store.dump()["accounts"] if a["account"]["id"] == account]
    return [o for o in holder["objects"] if o["object"] == "payment_intent"]


def retrieve(standin, account, payment_intent_id):
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": standin.url})
    return client.v1.payment_intents.retrieve(
        payment_intent_id, options={"stripe_account": account}
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
def test_without_the_token_nothing_is_answered(headers):
    for method, path in [
        ("POST", "/payments"),
        ("GET", "/payments/pay_1"),
        ("GET", "/accounts/acct_1Api/webhook"),
    ]:
        answer = invoke(method, path, "{}", headers)
        assert (answer.status, answer.body["error"]["code"]) == (401, "unauthorized")


def test_a_payment_starts_on_the_connected_account_and_reads_back(connected, standin):
    answer = start(valid())
    assert answer.status == 201, answer.body
    payment = answer.body
    intent = retrieve(standin, connected, payment["payment_intent_id"])
    assert (intent.amount, intent.currency, intent.client_secret) == (
        1200,
        "eur",
        payment["client_secret"],
    )
    assert intent.metadata["payment_id"] == payment["payment_id"]
    read = invoke("GET", f"/payments/{payment['payment_id']}", None, AUTH)
    assert read.status == 200
    assert "client_secret" not in read.body  # given once, never stored
    assert read.body["status"] == "pending" and read.body["invoices"] == payment["invoices"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (valid(amount=-5), "amount"),
        (valid(currency="EURO"), "currency"),
        (valid(invoices=[{"invoice_id": "INV-7", "amount": 1100}]), "invoices"),
        ({"company_id": "co_api"}, "amount"),
    ],
)
def test_invalid_input_names_the_field_and_changes_nothing(connected, standin, body, field):
    before = len(intents_on(standin, connected))
    answer = start(body)
    assert (answer.status, answer.body["error"]["field"]) == (400, field)
    assert len(intents_on(standin, connected)) == before


def test_a_body_that_is_not_json_is_a_clear_400(connected):
    answer = invoke("POST", "/payments", "{not json", AUTH)
    assert (answer.status, answer.body["error"]["field"]) == (400, "body")


def test_a_company_without_an_account_is_404_and_a_disconnected_one_409(standin):
    assert start(valid(company="co_nobody")).status == 404
    wiring.account_store().put(
        ConnectedAccount(
            "acct_1Gone", "co_gone", False, "2026-11-29T00:00Z", status=AccountStatus.DISCONNECTED
        )
    )
    answer = start(valid(company="co_gone"))
    assert answer.status == 409 and "disconnected" in answer.body["error"]["message"]


def test_an_unknown_payment_is_404():
    assert invoke("GET", "/payments/pay_unknown", None, AUTH).status == 404


def test_the_webhook_overview_gives_the_dedicated_url_and_event_types(connected):
    answer = invoke("GET", f"/accounts/{connected}/webhook", None, AUTH)
    assert answer.status == 200
    assert answer.body["url"] == f"https://bridge.example.com/webhooks/stripe/{connected}"
    assert answer.body["enabled_events"] == list(HANDLED_EVENT_TYPES)
    assert answer.body["signing_secrets"] == []


def test_signing_secrets_are_stored_and_never_shown_back_in_full(connected):
    secret = "whsec_abcdefghijklmnop0123456789WXYZ"
    answer = invoke(
        "PUT", f"/accounts/{connected}/webhook", json.dumps({"signing_secrets": [secret]}), AUTH
    )
    assert answer.status == 200
    assert answer.body["signing_secrets"] == ["whsec_…WXYZ"]
    assert secret not in json.dumps(
        invoke("GET", f"/accounts/{connected}/webhook", None, AUTH).body
    )
    assert wiring.account_store().get(connected).webhook_secrets == (secret,)


@pytest.mark.parametrize(
    "body",
    [
        {"signing_secrets": ["sk_live_nope_0123456789abcdef"]},
        {"signing_secrets": []},
        {"secret": "whsec_x"},
        [],
    ],
)
def test_a_bad_signing_secret_is_refused_and_changes_nothing(connected, body):
    before = wiring.account_store().get(connected)
    answer = invoke("PUT", f"/accounts/{connected}/webhook", json.dumps(body), AUTH)
    assert answer.status == 400
    assert wiring.account_store().get(connected) == before


def test_the_webhook_of_an_unknown_account_is_404():
    assert invoke("GET", "/accounts/acct_1Nobody/webhook", None, AUTH).status == 404
