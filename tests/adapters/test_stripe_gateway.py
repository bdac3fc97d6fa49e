"""The Stripe adapter over HTTP to the stand-in: connected-account scoping and error mapping."""

import json
import urllib.request

import pytest

from chalicelib.adapters.stripe_api import StripeApi, make_client
from chalicelib.domain.errors import StripeRejected, StripeUnavailable
from local.stripe_standin import StripeStandin

KEY = "sk_test_gateway"


@pytest.fixture(scope="module")
def standin():
    with StripeStandin(port=0, api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(standin):
    for account in ("acct_1Gateway", "acct_1Other"):
        request = urllib.request.Request(
            f"{standin.url}/_standin/accounts",
            data=json.dumps({"id": account}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request).close()
    return StripeApi(make_client(KEY, api_base=standin.url, timeout_seconds=5))


def create(gateway, key="k1", account="acct_1Gateway"):
    return gateway.create_payment_intent(
        account, {"amount": 1500, "currency": "usd", "metadata": {"payment_id": "pay_1"}}, key
    )


def test_a_payment_intent_lives_on_the_connected_account(gateway):
    intent = create(gateway)
    assert intent["status"] == "requires_payment_method" and intent["amount"] == 1500
    assert gateway.retrieve_payment_intent("acct_1Gateway", intent["id"])["id"] == intent["id"]
    with pytest.raises(StripeRejected) as refused:
        gateway.retrieve_payment_intent("acct_1Other", intent["id"])
    assert (refused.value.code, refused.value.status) == ("resource_missing", 404)


def test_the_same_idempotency_key_never_creates_a_second_payment_intent(gateway):
    assert create(gateway, key="same")["id"] == create(gateway, key="same")["id"]
    assert create(gateway, key="other")["id"] != create(gateway, key="same")["id"]


def test_a_refused_request_is_a_rejection_with_stripes_code(gateway):
    with pytest.raises(StripeRejected) as refused:
        gateway.create_payment_intent("acct_1Gateway", {"amount": 1500}, "k-missing")
    assert refused.value.code == "parameter_missing"


def test_an_unreachable_stripe_is_unavailable_quickly():
    dead = StripeApi(
        make_client(KEY, api_base="http://127.0.0.1:9", timeout_seconds=1, max_network_retries=1)
    )
    with pytest.raises(StripeUnavailable):
        dead.retrieve_payment_intent("acct_1Gateway", "pi_1")
