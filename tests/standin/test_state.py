"""The stand-in's Store and signing used directly, without HTTP."""

from __future__ import annotations

import pytest
import stripe

from local.stripe_standin.errors import OAuthError
from local.stripe_standin.state import Store
from local.stripe_standin.webhooks import signature_header


@pytest.fixture
def store() -> Store:
    store = Store(client_id="ca_test", clock=lambda: 1_700_000_000)
    store.connect_account(account_id="acct_a")
    return store


def test_events_are_queued_for_the_endpoints_that_match(store):
    queued = []
    store.on_event = lambda event_id, endpoint_ids: queued.append((event_id, endpoint_ids))
    connect = store.create_endpoint(
        None,
        url="http://x/c",
        enabled_events=["*"],
        connect=True,
        api_version=None,
        description=None,
        metadata={},
    )
    store.create_endpoint(
        None,
        url="http://x/p",
        enabled_events=["*"],
        connect=False,
        api_version=None,
        description=None,
        metadata={},
    )
    pi = store.create_payment_intent(
        "acct_a",
        amount=100,
        currency="usd",
        metadata={},
        payment_method_types=None,
        customer=None,
        description=None,
    )

    answer = store.pay(pi["id"], method="card", deliver=False)
    assert queued == [
        (store.list_events("acct_a", types=["payment_intent.created"])[0]["id"], [connect["id"]])
    ]
    assert answer["payment_intent"]["status"] == "succeeded"
    assert [e["created"] for e in store.list_events("acct_a")] == [1_700_000_000] * 4
    assert len(store.list_events("acct_a", delivery_success=False)) == 3


def test_codes_expire_with_the_clock(store):
    now = [1_700_000_000.0]
    store.clock = lambda: now[0]
    code = store.issue_code("acct_a", "read_write")
    now[0] += store.code_ttl + 1
    with pytest.raises(OAuthError) as raised:
        store.redeem_code(code)
    assert raised.value.error == "invalid_grant"


def test_signature_header_is_what_stripe_sends():
    payload = b'{"id": "evt_1", "object": "event"}'
    header = signature_header(payload, "whsec_test", 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert stripe.WebhookSignature.verify_header(
        payload.decode(), header, "whsec_test", tolerance=None
    )
