"""The Stripe API of the stand-in, through the real SDK: scoping, idempotency, errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import stripe

from .conftest import API_KEY

ACCOUNT = {"stripe_account": "acct_demo"}


def _raw(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None
) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_payment_intent_lives_on_its_connected_account_only(client, control):
    control.account("acct_demo")
    control.account("acct_other")
    pi = client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "EUR",
            "metadata": {"invoice": "inv_42"},
            "payment_method_types": ["card", "sepa_debit"],
            "description": "Invoice 42",
        },
        ACCOUNT,
    )

    assert pi.id.startswith("pi_")
    assert pi.status == "requires_payment_method"
    assert pi.client_secret.startswith(f"{pi.id}_secret_")
    assert (pi.amount, pi.currency, pi.amount_received) == (2500, "eur", 0)
    assert pi.latest_charge is None and pi.livemode is False
    assert pi.metadata.to_dict() == {"invoice": "inv_42"}
    assert pi.payment_method_types == ["card", "sepa_debit"]
    assert pi.application == "ca_standin"

    assert client.v1.payment_intents.retrieve(pi.id, options=ACCOUNT).id == pi.id
    for elsewhere in ({"stripe_account": "acct_other"}, {}):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.payment_intents.retrieve(pi.id, options=elsewhere)
        assert raised.value.http_status == 404
        assert raised.value.code == "resource_missing"
        assert f"No such payment_intent: '{pi.id}'" in raised.value.user_message


def test_payment_intent_update_and_cancel(client, control):
    control.account("acct_demo")
    pi = client.v1.payment_intents.create(
        {"amount": 700, "currency": "usd", "metadata": {"a": "1", "b": "2"}}, ACCOUNT
    )

    updated = client.v1.payment_intents.update(
        pi.id, {"metadata": {"a": "", "c": "3"}, "description": "later"}, ACCOUNT
    )
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    assert updated.description == "later"

    canceled = client.v1.payment_intents.cancel(
        pi.id, {"cancellation_reason": "abandoned"}, ACCOUNT
    )
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "abandoned"
    assert canceled.canceled_at is not None

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(pi.id, options=ACCOUNT)
    assert raised.value.code == "payment_intent_unexpected_state"
    assert control.event_types("acct_demo")[-2:] == [
        "payment_intent.created",
        "payment_intent.canceled",
    ]


def test_idempotency_key_replays_the_first_answer(client, control):
    control.account("acct_demo")
    params = {"amount": 1000, "currency": "usd"}
    first = client.v1.payment_intents.create(params, {**ACCOUNT, "idempotency_key": "k-1"})
    again = client.v1.payment_intents.create(params, {**ACCOUNT, "idempotency_key": "k-1"})
    other = client.v1.payment_intents.create(params, {**ACCOUNT, "idempotency_key": "k-2"})

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert other.id != first.id
    assert control.event_types("acct_demo").count("payment_intent.created") == 2

    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(
            {"amount": 5, "currency": "usd"}, {**ACCOUNT, "idempotency_key": "k-1"}
        )


def test_idempotency_keys_are_per_account(client, control):
    control.account("acct_demo")
    control.account("acct_other")
    params = {"amount": 1000, "currency": "usd"}
    on_demo = client.v1.payment_intents.create(params, {**ACCOUNT, "idempotency_key": "same"})
    on_other = client.v1.payment_intents.create(
        params, {"stripe_account": "acct_other", "idempotency_key": "same"}
    )
    assert on_demo.id != on_other.id


def test_wrong_or_missing_api_key_is_refused(standin):
    wrong = stripe.StripeClient("sk_test_wrong_key_1234", base_addresses={"api": standin.url})
    with pytest.raises(stripe.AuthenticationError) as raised:
        wrong.v1.payment_intents.create({"amount": 100, "currency": "usd"})
    assert raised.value.http_status == 401
    assert "Invalid API Key provided: sk_test_" in raised.value.user_message
    assert "wrong_key" not in raised.value.user_message

    status, headers, body = _raw(standin.url + "/v1/events")
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert headers["Request-Id"].startswith("req_")


def test_unknown_or_disconnected_account_is_refused(client, control):
    with pytest.raises(stripe.PermissionError) as raised:
        client.v1.payment_intents.create(
            {"amount": 100, "currency": "usd"}, {"stripe_account": "acct_nobody"}
        )
    assert raised.value.http_status == 403
    assert "does not have access to account 'acct_nobody'" in raised.value.user_message

    control.account("acct_demo")
    control.post("/_standin/accounts/acct_demo/deauthorize")
    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve_current(options=ACCOUNT)


def test_parameter_errors(client, control):
    control.account("acct_demo")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create({"currency": "usd"}, ACCOUNT)
    assert (raised.value.http_status, raised.value.code, raised.value.param) == (
        400,
        "parameter_missing",
        "amount",
    )

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create({"amount": 0, "currency": "usd"}, ACCOUNT)
    assert raised.value.param == "amount"

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {"amount": 10, "currency": "usd", "colour": "red"}, ACCOUNT
        )
    assert (raised.value.code, raised.value.param) == ("parameter_unknown", "colour")

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            {"amount": 10, "currency": "usd", "customer": "cus_missing"}, ACCOUNT
        )
    assert (raised.value.code, raised.value.param) == ("resource_missing", "customer")


def test_raw_form_encoding_and_error_shape(standin):
    auth = {
        "Authorization": f"Bearer {API_KEY}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    body = b"amount=300&currency=usd&payment_method_types[]=card&metadata[order]=o-9"
    status, headers, pi = _raw(standin.url + "/v1/payment_intents", "POST", body, auth)
    assert status == 200
    assert pi["payment_method_types"] == ["card"]
    assert pi["metadata"] == {"order": "o-9"}
    assert headers["Request-Id"].startswith("req_")

    status, _, body = _raw(standin.url + "/v1/nothing_here", headers=auth)
    assert status == 404
    assert set(body["error"]) >= {"type", "message"}


def test_accounts(client, control):
    control.account("acct_demo", email="shop@example.com", business_name="Demo shop")
    platform = client.v1.accounts.retrieve_current()
    assert platform.id.startswith("acct_") and platform.id != "acct_demo"

    account = client.v1.accounts.retrieve("acct_demo")
    assert (account.email, account.business_profile.name) == ("shop@example.com", "Demo shop")
    assert account.charges_enabled is True
    assert client.v1.accounts.retrieve_current(options=ACCOUNT).id == "acct_demo"

    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve("acct_unknown")


def test_events_list_filters_and_pages(client, control):
    control.account("acct_demo")
    ids = [
        client.v1.payment_intents.create({"amount": 100 + i, "currency": "usd"}, ACCOUNT).id
        for i in range(3)
    ]
    client.v1.payment_intents.cancel(ids[0], options=ACCOUNT)

    events = client.v1.events.list({"limit": 2}, ACCOUNT)
    assert [e.type for e in events.data] == ["payment_intent.canceled", "payment_intent.created"]
    assert events.has_more is True
    assert events.data[0].account == "acct_demo"
    assert events.data[0].data.object.id == ids[0]

    rest = client.v1.events.list({"limit": 10, "starting_after": events.data[-1].id}, ACCOUNT)
    assert [e.type for e in rest.data] == [
        "payment_intent.created",
        "payment_intent.created",
        "account.application.authorized",
    ]
    assert [e.data.object.id for e in rest.data[:2]] == [ids[1], ids[0]]
    assert rest.has_more is False

    created = client.v1.events.list({"type": "payment_intent.created"}, ACCOUNT)
    assert [e.data.object.id for e in created.data] == ids[::-1]
    assert (
        client.v1.events.list({"type": "payment_intent.*"}, ACCOUNT).data[0].type
        == "payment_intent.canceled"
    )
    # The platform's own list holds none of a connected account's events.
    assert client.v1.events.list().data == []

    one = client.v1.events.retrieve(events.data[0].id, options=ACCOUNT)
    assert one.request.id is not None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.retrieve(events.data[0].id)


def test_reset_forgets_everything(client, control):
    control.account("acct_demo")
    pi = client.v1.payment_intents.create({"amount": 100, "currency": "usd"}, ACCOUNT)
    assert control.post("/_standin/reset") == {"reset": True}

    with pytest.raises(stripe.PermissionError):
        client.v1.payment_intents.retrieve(pi.id, options=ACCOUNT)
    control.account("acct_demo")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(pi.id, options=ACCOUNT)
    assert (
        control.get("/_standin/events")["data"][0]["event"]["type"]
        == "account.application.authorized"
    )
