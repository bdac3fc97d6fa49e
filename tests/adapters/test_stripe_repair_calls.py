"""The Stripe calls of the repair engine, over HTTP to the stand-in, as a connected account."""

import json
import urllib.request

import pytest

from chalicelib.adapters.stripe_api import StripeApi, make_client
from chalicelib.domain.errors import StripeRejected
from local.stripe_standin import StripeStandin

KEY = "sk_test_repair"
ACCOUNT = "acct_1Repair"


@pytest.fixture(scope="module")
def standin():
    with StripeStandin(port=0, api_key=KEY) as server:
        yield server


def control(standin, path, body=None):
    request = urllib.request.Request(
        f"{standin.url}/_standin{path}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def gateway(standin):
    control(standin, "/accounts", {"id": ACCOUNT})
    return StripeApi(make_client(KEY, api_base=standin.url, timeout_seconds=5))


def chargeable_source(standin, amount=1500, metadata=None):
    source = control(
        standin,
        "/sources",
        {"account": ACCOUNT, "amount": amount, "metadata": metadata or {"payment_id": "pay_9"}},
    )["source"]
    control(standin, f"/sources/{source['id']}/chargeable")
    return source["id"]


def test_a_source_reads_back_with_its_status_and_metadata(standin, gateway):
    source_id = chargeable_source(standin, metadata={"owner": "stripe-bridge", "payment_id": "p"})
    source = gateway.retrieve_source(ACCOUNT, source_id)
    assert (source["status"], source["type"], source["amount"]) == (
        "chargeable",
        "ach_credit_transfer",
        1500,
    )
    assert source["metadata"] == {"owner": "stripe-bridge", "payment_id": "p"}


def test_a_charge_from_a_source_is_made_once_per_idempotency_key(standin, gateway):
    source_id = chargeable_source(standin)
    params = {"source": source_id, "amount": 1500, "currency": "usd", "metadata": {"a": "b"}}
    first = gateway.create_charge(ACCOUNT, params, f"charge-{source_id}")
    again = gateway.create_charge(ACCOUNT, params, f"charge-{source_id}")
    assert first["id"] == again["id"]
    assert (first["status"], first["payment_intent"], first["metadata"]) == (
        "succeeded",
        None,
        {"a": "b"},
    )
    assert gateway.retrieve_source(ACCOUNT, source_id)["status"] == "consumed"
    charge = gateway.retrieve_charge(ACCOUNT, first["id"])
    assert (charge["amount"], charge["source"]["id"]) == (1500, source_id)


def test_a_consumed_source_cannot_be_charged_under_another_key(standin, gateway):
    source_id = chargeable_source(standin)
    params = {"source": source_id, "amount": 1500, "currency": "usd"}
    gateway.create_charge(ACCOUNT, params, "key-1")
    with pytest.raises(StripeRejected) as refused:
        gateway.create_charge(ACCOUNT, params, "key-2")
    assert refused.value.status == 400


def test_a_customers_bank_account_reads_back_with_its_verification(standin, gateway):
    made = control(standin, "/customers", {"account": ACCOUNT})
    customer, bank_account = made["customer"]["id"], made["bank_account"]["id"]
    assert gateway.retrieve_bank_account(ACCOUNT, customer, bank_account)["status"] == "new"
    control(standin, f"/customers/{customer}/sources/{bank_account}/verify", {"result": "verified"})
    read = gateway.retrieve_bank_account(ACCOUNT, customer, bank_account)
    assert (read["object"], read["status"], read["customer"]) == (
        "bank_account",
        "verified",
        customer,
    )


def test_an_account_that_revoked_the_platform_is_no_longer_connected(standin, gateway):
    control(standin, "/accounts", {"id": "acct_1Leaving"})
    assert gateway.account_is_connected("acct_1Leaving")
    control(standin, "/accounts/acct_1Leaving/deauthorize")
    assert not gateway.account_is_connected("acct_1Leaving")
    assert not gateway.account_is_connected("acct_1NeverSeen")


def test_an_open_payment_intent_is_canceled_once_and_a_second_cancel_is_refused(gateway):
    intent = gateway.create_payment_intent(
        ACCOUNT, {"amount": 900, "currency": "usd"}, idempotency_key="cancel-test-1"
    )
    canceled = gateway.cancel_payment_intent(ACCOUNT, intent["id"])
    assert (canceled["status"], canceled["cancellation_reason"]) == ("canceled", "duplicate")
    with pytest.raises(StripeRejected) as refused:
        gateway.cancel_payment_intent(ACCOUNT, intent["id"])
    assert (refused.value.status, refused.value.code) == (400, "payment_intent_unexpected_state")


def test_an_object_of_no_such_id_on_the_account_is_a_404(gateway):
    with pytest.raises(StripeRejected) as missing:
        gateway.retrieve_payment_intent(ACCOUNT, "pi_not_here")
    assert (missing.value.status, missing.value.code) == (404, "resource_missing")


def test_an_account_the_platform_lost_access_to_is_a_403_account_invalid(standin, gateway):
    control(standin, "/accounts", {"id": "acct_1Revoked"})
    control(standin, "/accounts/acct_1Revoked/deauthorize")
    with pytest.raises(StripeRejected) as refused:
        gateway.retrieve_payment_intent("acct_1Revoked", "pi_1")
    assert (refused.value.status, refused.value.code) == (403, "account_invalid")
