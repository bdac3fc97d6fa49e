"""The platform API: bearer token, validation that changes nothing, the webhook overview."""

import json

import pytest
import stripe

from chalicelib import wiring
from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from local.apigw import invoke
from tests.http.conftest import STRIPE_KEY, TOKEN, connect_account

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
    return connect_account(standin, "acct_1Api", "co_api")


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


# --- ids and bodies that only look right -----------------------------------------------------

SECRETS_BODY = json.dumps({"signing_secrets": ["whsec_abcdefghijklmnop0123456789WXYZ"]})
ROUTES_WITH_IDS = [  # method, path with the id left out, a real id for that place, body
    ("GET", "/payments/{}", "pay_1", None),
    ("POST", "/payments/{}/sync", "pay_1", None),
    ("GET", "/payment-methods/{}/ba_1", "acct_1Api", None),
    ("GET", "/payment-methods/acct_1Api/{}", "ba_1", None),
    ("GET", "/accounts/{}/webhook", "acct_1Api", None),
    ("PUT", "/accounts/{}/webhook", "acct_1Api", SECRETS_BODY),
    ("POST", "/companies/{}/connect-links", "co_api", "{}"),
    ("GET", "/companies/{}/accounts", "co_api", None),
    ("DELETE", "/companies/{}/accounts/acct_1Api", "co_api", None),
    ("DELETE", "/companies/co_api/accounts/{}", "acct_1Api", None),
]


@pytest.mark.parametrize(("method", "template", "real", "body"), ROUTES_WITH_IDS)
@pytest.mark.parametrize("near_miss", ["{}\n", "{}\r\n", "{} ", "{}\x00", "\n{}"])
def test_an_id_that_only_starts_like_one_is_refused_on_every_route(
    connected, method, template, real, body, near_miss
):
    answer = invoke(method, template.format(near_miss.format(real)), body, AUTH)
    assert (answer.status, answer.body["error"]["code"]) == (400, "invalid_request"), answer
    assert wiring.account_store().get("acct_1Api").has_access  # nothing disconnected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"company_id": "co_api\n"}, "company_id"),
        ({"currency": "eur\n"}, "currency"),
        ({"invoices": [{"invoice_id": "INV-7\n", "amount": 1200}]}, "invoices[0].invoice_id"),
    ],
)
def test_a_payment_with_a_near_miss_field_is_refused(connected, standin, changes, field):
    before = len(intents_on(standin, connected))
    answer = start(valid(**changes))
    assert (answer.status, answer.body["error"]["field"]) == (400, field)
    assert len(intents_on(standin, connected)) == before


def test_near_miss_secrets_and_emails_are_refused(connected):
    secret = json.dumps({"signing_secrets": ["whsec_abcdefghijklmnop0123456789WXYZ\n"]})
    answer = invoke("PUT", f"/accounts/{connected}/webhook", secret, AUTH)
    assert (answer.status, answer.body["error"]["field"]) == (400, "signing_secrets[0]")
    link = json.dumps({"email": "owner@demo.test\n"})
    answer = invoke("POST", "/companies/co_api/connect-links", link, AUTH)
    assert (answer.status, answer.body["error"]["field"]) == (400, "email")


HOSTILE_BODIES = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "deep objects": '{"a":' * 70 + "1" + "}" * 70,
    "duplicate keys": '{"company_id": "co_api", "company_id": "co_other"}',
    "NaN": '{"amount": NaN}',
    "Infinity": '{"amount": -Infinity}',
    "huge float": '{"amount": 1e999}',
    "huge int": '{"amount": ' + "9" * 5000 + "}",
    "lone surrogate": json.dumps(valid(description="\ud800")),
    "lone surrogate in an email": json.dumps({"email": "a\udfff@b.test"}),
    "lone surrogate in a name": json.dumps({"connected_by": "\ud83d"}),
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/payments"),
        ("PUT", "/accounts/acct_1Api/webhook"),
        ("POST", "/companies/co_api/connect-links"),
    ],
)
def test_hostile_json_is_a_400_that_changes_nothing(connected, standin, method, path, body):
    before = len(intents_on(standin, connected)), wiring.account_store().get(connected)
    answer = invoke(method, path, body, AUTH)
    assert (answer.status, answer.body["error"]["field"]) == (400, "body"), answer
    assert (len(intents_on(standin, connected)), wiring.account_store().get(connected)) == before


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe{}", b'{"company_id": "caf\xe9"}', b"\xed\xa0\x80"],
    ids=["utf16-bom", "latin1", "encoded-surrogate"],
)
def test_bytes_that_are_not_utf8_are_a_400(connected, body):
    answer = invoke("POST", "/payments", body, AUTH, base64_encoded=True)
    assert (answer.status, answer.body["error"]["field"]) == (400, "body")
