"""The whole path through the running local stack: an abandoned card payment is repaired."""

import json
import time

import pytest
import stripe

from chalicelib.domain.metadata import SigningKeys, payment_metadata
from chalicelib.domain.payments import InvoiceLine, Payment
from local.stack import DEMO_ACCOUNT, DEMO_COMPANY, StackConfig
from tests.e2e.conftest import call, notifications, wait_until

pytestmark = pytest.mark.e2e


def test_an_abandoned_3ds_card_payment_is_repaired_by_the_webhook(stack, platform_inbox):
    started = stack.start_payment(amount=1500)
    assert started["status"] == "pending" and started["client_secret"].startswith(
        started["payment_intent_id"]
    )

    # The customer completes 3-D Secure, then closes the tab: only Stripe's webhook remains.
    stack.standin(f"/payment_intents/{started['payment_intent_id']}/pay", {"method": "card_3ds"})

    payment = stack.wait_for_payment(started["payment_id"], "succeeded")
    assert payment["amount_received"] == 1500
    assert payment["charge_id"].startswith("ch_")
    sent = notifications(stack, platform_inbox, started["payment_id"])
    assert [(n["status"], n["notification_id"]) for n in sent] == [
        ("succeeded", f"{started['payment_id']}.v1")
    ]


def test_an_event_delivered_three_times_is_applied_once(stack, platform_inbox):
    started = stack.start_payment(amount=2500)
    paid = stack.standin(f"/payment_intents/{started['payment_intent_id']}/pay", {"method": "card"})
    stack.wait_for_payment(started["payment_id"], "succeeded")

    for event_id in paid["events"]:  # each event twice more: three deliveries in all
        redelivered = stack.standin(f"/events/{event_id}/deliver", {"times": 2})
        assert [d["status"] for d in redelivered["deliveries"]] == [200, 200], redelivered
    stack.wait_until_queue_drained()

    payment = stack.payment(started["payment_id"])
    assert (payment["status"], payment["amount_received"]) == ("succeeded", 2500)
    assert len(notifications(stack, platform_inbox, started["payment_id"])) == 1


def test_an_event_for_a_payment_not_yet_stored_rebuilds_it_from_stripe(stack, platform_inbox):
    # As if the API had died between creating the PaymentIntent and storing the payment: the
    # PaymentIntent carries the metadata the service signed with the stack's key.
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": stack.stripe})
    lost = Payment(
        "pay_lost0001",
        DEMO_COMPANY,
        DEMO_ACCOUNT,
        700,
        "usd",
        (InvoiceLine("INV-9", 700),),
        "2026-11-29T10:00:00.000+00:00",
    )
    metadata = payment_metadata(lost, SigningKeys.parse(StackConfig().metadata_signing_keys))
    intent = client.v1.payment_intents.create(
        {"amount": 700, "currency": "usd", "metadata": metadata}, {"stripe_account": DEMO_ACCOUNT}
    )
    status, _ = stack.platform("GET", "/payments/pay_lost0001")
    assert status == 404

    stack.standin(f"/payment_intents/{intent.id}/pay", {"method": "card"})

    payment = stack.wait_for_payment("pay_lost0001", "succeeded")
    assert payment["invoices"] == [{"invoice_id": "INV-9", "amount": 700}]
    assert payment["payment_intent_id"] == intent.id


def test_a_badly_signed_webhook_is_refused_and_queues_nothing(stack):
    started = stack.start_payment(amount=900)
    paid = stack.standin(
        f"/payment_intents/{started['payment_intent_id']}/pay", {"method": "card", "deliver": False}
    )
    event = stack.standin(f"/events?account={DEMO_ACCOUNT}", method="GET")["data"]
    body = json.dumps(next(e["event"] for e in event if e["event"]["id"] == paid["events"][-1]))
    forged = stripe.WebhookSignature.generate_signature_header(body, "whsec_not_the_secret")
    stale = f"t={int(time.time()) - 3600},v1=00"

    for header in (forged, stale, None):
        headers = {"Content-Type": "application/json"}
        if header:
            headers["Stripe-Signature"] = header
        status, answer = call("POST", f"{stack.api}/webhooks/stripe", body.encode(), headers)
        assert status == 400, answer
    stack.wait_until_queue_drained(timeout=5)
    assert stack.payment(started["payment_id"])["status"] == "pending"


def test_a_poison_message_goes_to_the_dead_letter_queue_and_its_batch_is_applied(stack):
    payments = [stack.start_payment(amount=100 + i) for i in range(2)]
    bodies = []
    for started in payments:
        paid = stack.standin(
            f"/payment_intents/{started['payment_intent_id']}/pay",
            {"method": "card", "deliver": False},
        )
        recorded = stack.standin(f"/events?account={DEMO_ACCOUNT}", method="GET")["data"]
        bodies += [e["event"] for e in recorded if e["event"]["id"] == paid["events"][-1]]
    sqs = stack.client("sqs")
    queue = stack.queue_url("stripe-bridge-events")

    def entry(index, body, event_id):
        attributes = {"event_id": {"DataType": "String", "StringValue": event_id}}
        return {"Id": str(index), "MessageBody": body, "MessageAttributes": attributes}

    # Not queued by the webhook (no event id): a fault of the deployment, not a forged event,
    # which only the dead-letter queue and an operator can deal with.
    poison = {"Id": "1", "MessageBody": "this is not an event"}
    sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[
            entry(0, json.dumps(bodies[0]), bodies[0]["id"]),
            poison,
            entry(2, json.dumps(bodies[1]), bodies[1]["id"]),
        ],
    )

    for started in payments:
        stack.wait_for_payment(started["payment_id"], "succeeded")
    dead_letters = stack.queue_url("stripe-bridge-events-dlq")

    def poison_in_dlq():
        messages = sqs.receive_message(
            QueueUrl=dead_letters, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        return [m["Body"] for m in messages]

    assert wait_until(poison_in_dlq, 60, "the poison message in the DLQ") == [
        "this is not an event"
    ]


def test_forged_metadata_and_unreadable_events_are_ignored_never_dead_lettered(stack):
    # The account holder writes metadata naming another company and a large invoice.
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": stack.stripe})
    forged = {
        "owner": "stripe-bridge",
        "payment_id": "pay_forged0001",
        "company_id": "another-company",
        "created_at": "2026-11-29T10:00:00.000+00:00",
        "invoices_0": "garbage",
    }
    intent = client.v1.payment_intents.create(
        {"amount": 50, "currency": "usd", "metadata": forged}, {"stripe_account": DEMO_ACCOUNT}
    )
    stack.standin(f"/payment_intents/{intent.id}/pay", {"method": "card"})
    stack.wait_until_queue_drained()

    status, _ = stack.platform("GET", "/payments/pay_forged0001")
    assert status == 404
    sqs = stack.client("sqs")
    dead = sqs.get_queue_attributes(
        QueueUrl=stack.queue_url("stripe-bridge-events-dlq"),
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert dead == "0"
