"""Webhook endpoints and deliveries: signatures, routing between platform and connected
accounts, retries, redelivery, pausing."""

from __future__ import annotations

import pytest
import stripe

from .conftest import eventually

ACCOUNT = {"stripe_account": "acct_demo"}


def _verified(receiver, path: str, secret: str) -> list[stripe.Event]:
    """Events received on `path`, each checked the way the service checks them."""
    return [
        stripe.Webhook.construct_event(r["body"], r["headers"]["Stripe-Signature"], secret)
        for r in receiver.received(path)
    ]


def test_endpoint_crud_through_the_sdk(client):
    created = client.v1.webhook_endpoints.create(
        {
            "url": "https://example.test/hooks",
            "enabled_events": ["payment_intent.succeeded"],
            "connect": True,
            "description": "payments",
            "metadata": {"team": "billing"},
        }
    )
    assert created.secret.startswith("whsec_")
    assert (created.status, created.url) == ("enabled", "https://example.test/hooks")

    fetched = client.v1.webhook_endpoints.retrieve(created.id)
    assert "secret" not in fetched
    assert fetched.enabled_events == ["payment_intent.succeeded"]
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [created.id]

    updated = client.v1.webhook_endpoints.update(
        created.id, {"enabled_events": ["*"], "disabled": True, "url": "https://example.test/v2"}
    )
    assert (updated.status, updated.enabled_events, updated.url) == (
        "disabled",
        ["*"],
        "https://example.test/v2",
    )

    deleted = client.v1.webhook_endpoints.delete(created.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.retrieve(created.id)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.webhook_endpoints.create({"enabled_events": ["*"]})
    assert (raised.value.code, raised.value.param) == ("parameter_missing", "url")


def test_signed_delivery_verifies_with_the_sdk(client, control, receiver):
    control.account("acct_demo")
    endpoint = client.v1.webhook_endpoints.create(
        {
            "url": receiver.url + "/connect",
            "enabled_events": ["payment_intent.succeeded"],
            "connect": True,
        }
    )
    pi = client.v1.payment_intents.create({"amount": 900, "currency": "usd"}, ACCOUNT)
    control.post(f"/_standin/payment_intents/{pi.id}/pay", {"method": "card"})

    eventually(lambda: receiver.received("/connect"))
    [event] = _verified(receiver, "/connect", endpoint.secret)
    assert event.type == "payment_intent.succeeded"
    assert event.account == "acct_demo"
    assert event.data.object.id == pi.id and event.data.object.status == "succeeded"
    request = receiver.received("/connect")[0]
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            request["body"], request["headers"]["Stripe-Signature"], "whsec_not_the_secret"
        )
    # Once delivered, the event no longer counts as pending.
    assert eventually(
        lambda: client.v1.events.retrieve(event.id, options=ACCOUNT).pending_webhooks == 0
    )


def test_events_go_to_the_endpoints_that_ask_for_them(client, control, receiver):
    control.account("acct_demo")
    control.account("acct_other")
    hook = receiver.url
    connect = client.v1.webhook_endpoints.create(
        {"url": hook + "/connect", "enabled_events": ["*"], "connect": True}
    )
    platform = client.v1.webhook_endpoints.create(
        {"url": hook + "/platform", "enabled_events": ["*"]}
    )
    own = client.v1.webhook_endpoints.create(
        {"url": hook + "/demo", "enabled_events": ["payment_intent.created"]}, ACCOUNT
    )
    off = client.v1.webhook_endpoints.create(
        {"url": hook + "/off", "enabled_events": ["*"], "connect": True}
    )
    client.v1.webhook_endpoints.update(off.id, {"disabled": True})

    on_demo = client.v1.payment_intents.create({"amount": 100, "currency": "usd"}, ACCOUNT)
    on_other = client.v1.payment_intents.create(
        {"amount": 200, "currency": "usd"}, {"stripe_account": "acct_other"}
    )
    on_platform = client.v1.payment_intents.create({"amount": 300, "currency": "usd"})

    eventually(
        lambda: (
            len(receiver.received("/connect")) == 2
            and receiver.received("/platform")
            and receiver.received("/demo")
        )
    )
    assert sorted(
        e.data.object.id for e in _verified(receiver, "/connect", connect.secret)
    ) == sorted([on_demo.id, on_other.id])
    assert [e.data.object.id for e in _verified(receiver, "/platform", platform.secret)] == [
        on_platform.id
    ]
    [seen_by_demo] = _verified(receiver, "/demo", own.secret)
    assert (seen_by_demo.data.object.id, seen_by_demo.account) == (on_demo.id, "acct_demo")
    assert receiver.received("/off") == []
    # Endpoints of a connected account are listed with its header only.
    assert [e.id for e in client.v1.webhook_endpoints.list(options=ACCOUNT).data] == [own.id]


def test_failed_delivery_is_retried_then_given_up(client, control, receiver):
    control.account("acct_demo")
    receiver.statuses["/flaky"] = [500, 200]
    receiver.statuses["/down"] = [503]
    client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/flaky", "enabled_events": ["*"], "connect": True}
    )
    client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/down", "enabled_events": ["*"], "connect": True}
    )
    pi = client.v1.payment_intents.create({"amount": 100, "currency": "usd"}, ACCOUNT)

    [record] = eventually(
        lambda: [
            r
            for r in control.get("/_standin/events?type=payment_intent.created")["data"]
            if len(r["deliveries"]) == 5
        ]
    )
    by_url = {}
    for delivery in record["deliveries"]:
        by_url.setdefault(delivery["url"].rsplit("/", 1)[1], []).append(delivery["status"])
    assert by_url == {"flaky": [500, 200], "down": [503, 503, 503]}
    assert record["event"]["data"]["object"]["id"] == pi.id

    failed = client.v1.events.list({"delivery_success": False}, ACCOUNT).data
    assert [e.id for e in failed] == [record["event"]["id"]]
    assert failed[0].pending_webhooks == 1


def test_unreachable_endpoint_counts_as_failed(client, control, receiver):
    control.account("acct_demo")
    receiver.close()  # nothing listens there any more
    client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/gone", "enabled_events": ["*"], "connect": True}
    )
    client.v1.payment_intents.create({"amount": 100, "currency": "usd"}, ACCOUNT)

    [record] = eventually(
        lambda: [
            r
            for r in control.get("/_standin/events?type=payment_intent.created")["data"]
            if len(r["deliveries"]) == 3
        ]
    )
    assert {d["status"] for d in record["deliveries"]} == {None}
    assert all(d["error"] for d in record["deliveries"])


def test_lost_webhook_is_listed_and_can_be_redelivered(client, control, receiver):
    control.account("acct_demo")
    endpoint = client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/connect", "enabled_events": ["*"], "connect": True}
    )
    pi = client.v1.payment_intents.create({"amount": 100, "currency": "usd"}, ACCOUNT)
    eventually(lambda: receiver.received("/connect"))  # payment_intent.created

    paid = control.post(
        f"/_standin/payment_intents/{pi.id}/pay", {"method": "card", "deliver": False}
    )
    missed = client.v1.events.list({"delivery_success": False}, ACCOUNT).data
    assert {e.type for e in missed} == {"charge.succeeded", "payment_intent.succeeded"}
    assert len(receiver.received("/connect")) == 1

    succeeded = paid["events"][1]
    answer = control.post(f"/_standin/events/{succeeded}/deliver", {"times": 2})
    assert [d["status"] for d in answer["deliveries"]] == [200, 200]
    events = _verified(receiver, "/connect", endpoint.secret)
    assert [e.id for e in events[1:]] == [succeeded, succeeded]
    assert [e.type for e in client.v1.events.list({"delivery_success": False}, ACCOUNT).data] == [
        "charge.succeeded"
    ]


def test_paused_deliveries_wait_and_flush_on_resume(client, control, receiver):
    control.account("acct_demo")
    client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/connect", "enabled_events": ["*"], "connect": True}
    )
    assert control.post("/_standin/delivery", {"paused": True})["paused"] is True

    pi = client.v1.payment_intents.create({"amount": 100, "currency": "usd"}, ACCOUNT)
    control.post(f"/_standin/payment_intents/{pi.id}/pay", {"method": "card"})
    assert control.get("/_standin/state")["delivery_paused"] is True
    assert receiver.received("/connect") == []

    assert control.post("/_standin/delivery", {"paused": False})["queued"] == 3
    eventually(lambda: len(receiver.received("/connect")) == 3)
    assert [e["type"] for e in receiver.events("/connect")] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_deleted_endpoint_gets_nothing_more(client, control, receiver):
    control.account("acct_demo")
    doomed = client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/doomed", "enabled_events": ["*"], "connect": True}
    )
    # Deliveries go out in order, so once this one is served the doomed one was handled.
    client.v1.webhook_endpoints.create(
        {"url": receiver.url + "/kept", "enabled_events": ["*"], "connect": True}
    )
    control.post("/_standin/delivery", {"paused": True})
    client.v1.payment_intents.create({"amount": 100, "currency": "usd"}, ACCOUNT)
    client.v1.webhook_endpoints.delete(doomed.id)
    control.post("/_standin/delivery", {"paused": False})

    eventually(lambda: receiver.received("/kept"))
    assert receiver.received("/doomed") == []


def test_a_connected_accounts_own_endpoint_is_managed_as_that_account(client, control, receiver):
    """What the webhook overview does: list, create, mend an endpoint with Stripe-Account."""
    control.account("acct_demo")
    control.account("acct_other")
    created = client.v1.webhook_endpoints.create(
        {
            "url": receiver.url + "/own",
            "enabled_events": ["payment_intent.succeeded"],
            "api_version": "2025-01-27.acacia",
            "metadata": {"stripe_bridge": "svc"},
        },
        ACCOUNT,
    )
    assert created.secret.startswith("whsec_") and created.application
    assert created.api_version == "2025-01-27.acacia"
    # Neither the platform nor another account sees it, or may change it.
    assert client.v1.webhook_endpoints.list().data == []
    other = {"stripe_account": "acct_other"}
    assert client.v1.webhook_endpoints.list(options=other).data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.update(created.id, {"disabled": True}, other)

    # Edited by hand, then brought back in line, as the account.
    client.v1.webhook_endpoints.update(
        created.id, {"url": receiver.url + "/moved", "disabled": True}, ACCOUNT
    )
    [moved] = client.v1.webhook_endpoints.list(options=ACCOUNT).data
    assert (moved.url, moved.status, moved.metadata.stripe_bridge) == (
        receiver.url + "/moved",
        "disabled",
        "svc",
    )
    client.v1.webhook_endpoints.update(
        created.id, {"url": receiver.url + "/own", "disabled": False}, ACCOUNT
    )

    # Its deliveries are the account's events, signed with its own secret, in its version.
    pi = client.v1.payment_intents.create({"amount": 900, "currency": "usd"}, ACCOUNT)
    control.post(f"/_standin/payment_intents/{pi.id}/pay", {"method": "card"})
    eventually(lambda: receiver.received("/own"))
    [event] = _verified(receiver, "/own", created.secret)
    assert (event.type, event.account, event.api_version) == (
        "payment_intent.succeeded",
        "acct_demo",
        "2025-01-27.acacia",
    )
    assert receiver.received("/moved") == []


def test_a_disconnected_account_s_endpoints_are_out_of_the_platforms_reach(client, control):
    control.account("acct_demo")
    client.v1.webhook_endpoints.create(
        {"url": "https://example.test/own", "enabled_events": ["*"]}, ACCOUNT
    )
    client.oauth.deauthorize({"stripe_user_id": "acct_demo"})
    with pytest.raises(stripe.PermissionError):
        client.v1.webhook_endpoints.list(options=ACCOUNT)


def test_an_endpoints_secret_can_be_revealed_as_in_the_dashboard(client, control):
    control.account("acct_demo")
    created = client.v1.webhook_endpoints.create(
        {"url": "https://example.test/own", "enabled_events": ["*"]}, ACCOUNT
    )
    assert control.get(f"/_standin/webhook_endpoints/{created.id}/secret") == {
        "secret": created.secret
    }
    status, answer = control.call("GET", "/_standin/webhook_endpoints/we_nothing/secret")
    assert status == 404 and answer["error"]["code"] == "resource_missing"
