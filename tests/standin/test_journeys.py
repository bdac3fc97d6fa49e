"""Customers paying and leaving, played through the control API; the results read through the
real SDK, as the service would read them."""

from __future__ import annotations

import pytest
import stripe

ACCOUNT = {"stripe_account": "acct_demo"}


@pytest.fixture
def new_pi(client, control):
    control.account("acct_demo")

    def create(amount: int = 5000, **params) -> str:
        pi = client.v1.payment_intents.create(
            {"amount": amount, "currency": "usd", "metadata": {"invoice": "inv_7"}, **params},
            ACCOUNT,
        )
        return pi.id

    return create


def _journey_events(control, answer: dict) -> list[str]:
    by_id = {r["event"]["id"]: r["event"] for r in control.get("/_standin/events")["data"]}
    return [by_id[event_id]["type"] for event_id in answer["events"]]


def test_card_payment_succeeds_at_once(client, control, new_pi):
    pi_id = new_pi(payment_method_types=["card"])
    answer = control.post(f"/_standin/payment_intents/{pi_id}/pay", {"method": "card"})

    assert _journey_events(control, answer) == ["charge.succeeded", "payment_intent.succeeded"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert (pi.status, pi.amount_received) == ("succeeded", 5000)
    charge = client.v1.charges.retrieve(pi.latest_charge, options=ACCOUNT)
    assert (charge.status, charge.paid, charge.payment_intent) == ("succeeded", True, pi_id)
    assert charge.amount_captured == 5000
    assert charge.metadata.to_dict() == {"invoice": "inv_7"}
    assert charge.payment_method_details.type == "card"

    events = client.v1.events.list({"limit": 2}, ACCOUNT).data
    assert events[0].data.object.status == "succeeded"
    assert events[1].data.object.object == "charge"


def test_card_with_3d_secure(client, control, new_pi):
    pi_id = new_pi()
    answer = control.post(f"/_standin/payment_intents/{pi_id}/pay", {"method": "card_3ds"})

    assert _journey_events(control, answer) == [
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    requires_action = client.v1.events.retrieve(answer["events"][0], options=ACCOUNT)
    assert requires_action.data.object.next_action.type == "use_stripe_sdk"
    assert client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT).status == "succeeded"


def test_3d_secure_abandoned_then_failed(client, control, new_pi):
    pi_id = new_pi()
    control.post(
        f"/_standin/payment_intents/{pi_id}/pay", {"method": "card_3ds", "outcome": "abandoned"}
    )
    assert client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT).status == "requires_action"

    answer = control.post(
        f"/_standin/payment_intents/{pi_id}/pay", {"method": "card_3ds", "outcome": "declined"}
    )
    assert _journey_events(control, answer) == [
        "payment_intent.requires_action",
        "payment_intent.payment_failed",
    ]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"


def test_declined_card_then_a_later_payment_succeeds(client, control, new_pi):
    pi_id = new_pi()
    declined = control.post(
        f"/_standin/payment_intents/{pi_id}/pay", {"method": "card", "outcome": "declined"}
    )

    assert _journey_events(control, declined) == ["charge.failed", "payment_intent.payment_failed"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert pi.status == "requires_payment_method"
    error = pi.last_payment_error
    assert (error.type, error.code, error.decline_code, error.message) == (
        "card_error",
        "card_declined",
        "generic_decline",
        "Your card was declined.",
    )
    failed_charge = client.v1.charges.retrieve(error.charge, options=ACCOUNT)
    assert (failed_charge.status, failed_charge.paid) == ("failed", False)
    assert failed_charge.failure_code == "card_declined"

    paid = control.post(f"/_standin/payment_intents/{pi_id}/pay", {"method": "card"})
    assert _journey_events(control, paid) == ["charge.succeeded", "payment_intent.succeeded"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert pi.status == "succeeded" and pi.last_payment_error is None
    assert pi.latest_charge != failed_charge.id


def test_bank_debit_processing_then_settled(client, control, new_pi):
    pi_id = new_pi(payment_method_types=["us_bank_account"])
    pending = control.post(f"/_standin/payment_intents/{pi_id}/pay", {"method": "us_bank_account"})

    assert _journey_events(control, pending) == ["charge.pending", "payment_intent.processing"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert pi.status == "processing" and pi.amount_received == 0
    assert client.v1.charges.retrieve(pi.latest_charge, options=ACCOUNT).status == "pending"

    settled = control.post(f"/_standin/payment_intents/{pi_id}/settle")
    assert _journey_events(control, settled) == ["charge.succeeded", "payment_intent.succeeded"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert (pi.status, pi.amount_received) == ("succeeded", 5000)
    assert client.v1.charges.retrieve(pi.latest_charge, options=ACCOUNT).status == "succeeded"

    status, body = control.call("POST", f"/_standin/payment_intents/{pi_id}/settle", {})
    assert status == 400 and body["error"]["code"] == "payment_intent_unexpected_state"


def test_bank_debit_fails_later(client, control, new_pi):
    pi_id = new_pi(payment_method_types=["sepa_debit"])
    control.post(f"/_standin/payment_intents/{pi_id}/pay", {"method": "sepa_debit"})
    failed = control.post(f"/_standin/payment_intents/{pi_id}/fail", {"code": "account_closed"})

    assert _journey_events(control, failed) == ["charge.failed", "payment_intent.payment_failed"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "account_closed"
    assert pi.last_payment_error.message
    assert client.v1.charges.retrieve(pi.latest_charge, options=ACCOUNT).status == "failed"


def test_payment_method_must_be_accepted_by_the_payment_intent(control, new_pi):
    pi_id = new_pi(payment_method_types=["card"])
    status, body = control.call(
        "POST", f"/_standin/payment_intents/{pi_id}/pay", {"method": "sepa_debit"}
    )
    assert status == 400
    assert "sepa_debit" in body["error"]["message"]


def test_bank_transfer_funded_in_two_parts(client, control, new_pi):
    pi_id = new_pi(amount=10000, payment_method_types=["customer_balance"])
    waiting = control.post(f"/_standin/payment_intents/{pi_id}/pay", {"method": "customer_balance"})
    assert _journey_events(control, waiting) == ["payment_intent.requires_action"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert pi.status == "requires_action"
    assert pi.next_action.type == "display_bank_transfer_instructions"
    assert pi.next_action.display_bank_transfer_instructions.amount_remaining == 10000

    partly = control.post(f"/_standin/payment_intents/{pi_id}/fund", {"amount": 4000})
    assert _journey_events(control, partly) == ["payment_intent.partially_funded"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert (pi.status, pi.amount_received) == ("requires_action", 4000)
    assert pi.next_action.display_bank_transfer_instructions.amount_remaining == 6000

    rest = control.post(f"/_standin/payment_intents/{pi_id}/fund", {"amount": 6000})
    assert _journey_events(control, rest) == ["charge.succeeded", "payment_intent.succeeded"]
    pi = client.v1.payment_intents.retrieve(pi_id, options=ACCOUNT)
    assert (pi.status, pi.amount_received, pi.next_action) == ("succeeded", 10000, None)
    assert client.v1.charges.retrieve(pi.latest_charge, options=ACCOUNT).paid is True


def test_source_becomes_chargeable_and_is_charged(client, control):
    control.account("acct_demo")
    source = control.post(
        "/_standin/sources",
        {
            "account": "acct_demo",
            "type": "ach_credit_transfer",
            "amount": 12000,
            "currency": "usd",
            "metadata": {"invoice": "inv_9"},
        },
    )["source"]
    assert source["status"] == "pending" and source["flow"] == "receiver"
    assert source["ach_credit_transfer"]["routing_number"]

    chargeable = control.post(f"/_standin/sources/{source['id']}/chargeable")
    assert _journey_events(control, chargeable) == ["source.chargeable"]
    assert client.v1.sources.retrieve(source["id"], options=ACCOUNT).status == "chargeable"

    charge = client.v1.charges.create(
        {
            "amount": 12000,
            "currency": "usd",
            "source": source["id"],
            "metadata": {"invoice": "inv_9"},
        },
        ACCOUNT,
    )
    assert (charge.status, charge.paid, charge.payment_intent) == ("succeeded", True, None)
    assert charge.source.id == source["id"]
    assert client.v1.sources.retrieve(source["id"], options=ACCOUNT).status == "consumed"
    assert control.event_types("acct_demo")[-1] == "charge.succeeded"

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.charges.create({"amount": 1, "currency": "usd", "source": source["id"]}, ACCOUNT)
    assert raised.value.param == "source"


def test_source_that_fails_cannot_be_charged(client, control):
    control.account("acct_demo")
    source = control.post(
        "/_standin/sources", {"account": "acct_demo", "amount": 500, "currency": "usd"}
    )["source"]
    failed = control.post(f"/_standin/sources/{source['id']}/fail")
    assert _journey_events(control, failed) == ["source.failed"]

    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.charges.create(
            {"amount": 500, "currency": "usd", "source": source["id"]}, ACCOUNT
        )
    assert raised.value.code == "payment_method_unexpected_state"


def test_bank_account_verification(client, control):
    control.account("acct_demo")
    created = control.post(
        "/_standin/customers", {"account": "acct_demo", "email": "payer@example.com"}
    )
    customer_id, ba_id = created["customer"]["id"], created["bank_account"]["id"]
    bank_account = client.v1.customers.payment_sources.retrieve(customer_id, ba_id, options=ACCOUNT)
    assert (bank_account.object, bank_account.status) == ("bank_account", "new")

    verified = control.post(
        f"/_standin/customers/{customer_id}/sources/{ba_id}/verify",
        {"result": "verification_failed"},
    )
    event = client.v1.events.retrieve(verified["events"][0], options=ACCOUNT)
    assert event.type == "customer.source.updated"
    assert event.data.object.status == "verification_failed"
    assert event.data.previous_attributes.status == "new"
    assert (
        client.v1.customers.payment_sources.retrieve(customer_id, ba_id, options=ACCOUNT).status
        == "verification_failed"
    )


def test_control_errors_name_the_problem(control, new_pi):
    status, body = control.call("POST", "/_standin/payment_intents/pi_nope/pay", {"method": "card"})
    assert status == 404 and body["error"]["code"] == "resource_missing"
    pi_id = new_pi()
    status, body = control.call(
        "POST", f"/_standin/payment_intents/{pi_id}/pay", {"method": "cash"}
    )
    assert status == 400 and body["error"]["param"] == "method"
    status, body = control.call(
        "POST", f"/_standin/payment_intents/{pi_id}/pay", {"method": "card", "speed": "fast"}
    )
    assert status == 400 and body["error"]["param"] == "speed"
