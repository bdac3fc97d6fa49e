"""Each event type through the consumer: Stripe's events, the real queue, DynamoDB and the bus."""

from __future__ import annotations

import json
import threading
import time

import pytest
import stripe

from chalicelib import wiring
from chalicelib.domain.accounts import AccountStatus
from chalicelib.domain.metadata import payment_metadata
from chalicelib.domain.payments import InvoiceLine, Payment, PaymentStatus
from chalicelib.services.repair import QueuedEvent
from local.apigw import invoke
from local.stripe_standin import StripeStandin
from tests.consumer.conftest import MAX_RECEIVE_COUNT, STRIPE_KEY, TOKEN

S = PaymentStatus


def pay(bridge, payment, method, **body):
    return bridge.control(
        f"/payment_intents/{payment.payment_intent_id}/pay", {"method": method, **body}
    )


def together(*jobs):
    """Run the jobs at once, as concurrent Lambdas; the errors they raised."""
    errors = []

    def run(job):
        try:
            job()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def distinct(told):
    """The notifications told, each id once: racing handlers may each publish a pending one
    (at least once, the same id and content), the platform dedupes on the id."""
    by_id = {}
    for notification in told:
        assert by_id.setdefault(notification["notification_id"], notification) == notification
    return statuses(by_id.values())


def statuses(told):
    return [(n["status"], n["notification_id"].rsplit(".", 1)[1]) for n in told]


def test_payment_intent_succeeded_completes_the_payment_and_tells_the_platform_once(bridge):
    payment = bridge.start_payment(1500)
    pay(bridge, payment, "card_3ds")
    bridge.deliver_all()
    bridge.deliver_all()  # Stripe sends everything again

    done = bridge.payment(payment.payment_id)
    assert (done.status, done.amount_received) == (S.SUCCEEDED, 1500)
    assert done.charge_id and done.charge_id.startswith("ch_")
    assert statuses(bridge.told(payment.payment_id)) == [("succeeded", "v1")]


def test_a_payment_intent_the_service_never_created_is_acknowledged_and_ignored(bridge):
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": bridge.standin.url})
    intent = client.v1.payment_intents.create(
        {"amount": 700, "currency": "usd", "metadata": {"order": "42"}},
        {"stripe_account": bridge.account},
    )
    bridge.control(f"/payment_intents/{intent.id}/pay", {"method": "card"})
    bridge.deliver_all("payment_intent.succeeded")
    assert bridge.outcomes == ["ignored_foreign"]
    assert bridge.queue_depth() == 0


def test_a_bank_debit_is_processing_and_then_succeeds(bridge):
    payment = bridge.start_payment(2200)
    pay(bridge, payment, "us_bank_account")
    bridge.deliver_all()
    assert bridge.payment(payment.payment_id).status is S.PROCESSING

    bridge.control(f"/payment_intents/{payment.payment_intent_id}/settle")
    bridge.deliver_all()
    done = bridge.payment(payment.payment_id)
    assert (done.status, done.amount_received) == (S.SUCCEEDED, 2200)
    assert statuses(bridge.told(payment.payment_id)) == [("processing", "v1"), ("succeeded", "v2")]


def test_a_failed_debit_records_stripes_reason_and_a_retry_still_wins(bridge):
    payment = bridge.start_payment(3000, "eur")
    pay(bridge, payment, "sepa_debit")
    bridge.control(f"/payment_intents/{payment.payment_intent_id}/fail", {"code": "account_closed"})
    bridge.deliver_all()
    failed = bridge.payment(payment.payment_id)
    assert (failed.status, failed.failure_code) == (S.FAILED, "account_closed")
    assert failed.failure_message == "The customer's bank account has been closed."
    failure = bridge.events("payment_intent.payment_failed")[-1]

    pay(bridge, payment, "sepa_debit")
    bridge.control(f"/payment_intents/{payment.payment_intent_id}/settle")
    bridge.deliver_all()
    # Stripe may create a second Event for the same change: another id, the same effect.
    bridge.deliver(dict(failure, id=failure["id"] + "bis"))
    done = bridge.payment(payment.payment_id)
    assert (done.status, done.failure_code, done.amount_received) == (S.SUCCEEDED, None, 3000)
    # Each delivery read Stripe after the fact: the processing states were never seen.
    assert statuses(bridge.told(payment.payment_id)) == [("failed", "v1"), ("succeeded", "v2")]


def test_partial_bank_transfers_add_up_without_counting_one_twice(bridge):
    payment = bridge.start_payment(1000)
    pay(bridge, payment, "customer_balance")
    bridge.control(f"/payment_intents/{payment.payment_intent_id}/fund", {"amount": 250})
    first = bridge.events("payment_intent.partially_funded")[-1]
    bridge.control(f"/payment_intents/{payment.payment_intent_id}/fund", {"amount": 300})
    second = bridge.events("payment_intent.partially_funded")[-1]
    bridge.deliver(second, first, dict(first, id=first["id"] + "bis"), second)

    partly = bridge.payment(payment.payment_id)
    assert (partly.status, partly.amount_received, partly.amount_remaining) == (
        S.PARTIALLY_FUNDED,
        550,
        450,
    )
    bridge.control(f"/payment_intents/{payment.payment_intent_id}/fund")
    bridge.deliver_all()
    done = bridge.payment(payment.payment_id)
    assert (done.status, done.amount_received, done.amount_remaining) == (S.SUCCEEDED, 1000, 0)


def test_charge_succeeded_alone_completes_a_payment_through_its_payment_intent(bridge):
    payment = bridge.start_payment(900)
    pay(bridge, payment, "card")
    bridge.deliver_all("charge.succeeded")
    assert bridge.payment(payment.payment_id).status is S.SUCCEEDED


def test_a_card_payments_events_twice_read_stripe_once_and_tell_the_platform_once(
    bridge, monkeypatch
):
    from chalicelib.adapters.stripe_api import StripeApi

    reads = []
    real = StripeApi.retrieve_payment_intent

    def counted(self, account_id, payment_intent_id):
        reads.append(payment_intent_id)
        return real(self, account_id, payment_intent_id)

    monkeypatch.setattr(StripeApi, "retrieve_payment_intent", counted)
    monkeypatch.setattr(StripeApi, "retrieve_charge", lambda *args: pytest.fail("read the Charge"))
    payment = bridge.start_payment(1200)
    pay(bridge, payment, "card")
    bridge.deliver_all("charge.succeeded")
    bridge.deliver_all("payment_intent.succeeded")
    bridge.deliver_all()  # Stripe sends everything again

    assert reads == [payment.payment_intent_id]
    assert bridge.payment(payment.payment_id).status is S.SUCCEEDED
    assert statuses(bridge.told(payment.payment_id)) == [("succeeded", "v1")]


# --- legacy Sources -------------------------------------------------------------------------


def payment_intent(bridge, payment):
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": bridge.standin.url})
    return client.v1.payment_intents.retrieve(
        payment.payment_intent_id, options={"stripe_account": bridge.account}
    ).to_dict()


def source_for(bridge, payment, metadata=None, amount=None):
    """A Source made by the platform's checkout, with the metadata the service signed."""
    if metadata is None:
        metadata = payment_metadata(payment, wiring.metadata_keys())
    body = {"account": bridge.account, "amount": amount or payment.amount, "metadata": metadata}
    return bridge.control("/sources", body)["source"]["id"]


def charges_of(bridge, source_id):
    return [
        e["data"]["object"]["id"]
        for e in bridge.events("charge.succeeded")
        if (e["data"]["object"].get("source") or {}).get("id") == source_id
    ]


def test_a_chargeable_source_is_charged_once_and_completes_its_payment(bridge):
    started = bridge.start(1800)
    payment = started.payment
    source_id = source_for(bridge, payment, started.source_metadata)
    bridge.control(f"/sources/{source_id}/chargeable")
    chargeable = bridge.events("source.chargeable")[-1]

    # Consumers at once (the same change under several event ids, as Stripe may send it).
    repairer = wiring.repairer()
    copies = [QueuedEvent.from_body(json.dumps(dict(chargeable, id=f"evt_{i}"))) for i in range(4)]
    errors = together(*[lambda copy=copy: repairer.handle(copy) for copy in copies])
    # One that finds another's request still in flight at Stripe fails, and is retried.
    assert all(getattr(e, "code", None) == "idempotency_key_in_use" for e in errors), errors
    bridge.deliver_all()  # then the webhooks: source.chargeable, charge.succeeded

    charges = charges_of(bridge, source_id)
    done = bridge.payment(payment.payment_id)
    assert len(charges) == 1
    assert (done.status, done.source_id, done.charge_id, done.amount_received) == (
        S.SUCCEEDED,
        source_id,
        charges[0],
        1800,
    )
    assert distinct(bridge.told(payment.payment_id)) == [("succeeded", "v2")]
    # One payment, one settlement: its PaymentIntent was closed before the Source was charged.
    assert payment_intent(bridge, payment)["status"] == "canceled"


def test_a_source_for_a_payment_never_stored_rebuilds_it(bridge):
    lost = Payment(
        "pay_lost_" + bridge.account[-8:],
        f"co_{bridge.account}",
        bridge.account,
        1200,
        "usd",
        (InvoiceLine("INV-9", 1200),),
        "2026-11-29T10:00:00.000+00:00",
    )
    source_id = source_for(bridge, lost)
    bridge.control(f"/sources/{source_id}/chargeable")
    bridge.deliver_all()
    rebuilt = bridge.payment(lost.payment_id)
    assert (rebuilt.status, rebuilt.amount, rebuilt.source_id) == (S.SUCCEEDED, 1200, source_id)


def test_a_source_that_is_not_ours_or_not_chargeable_is_left_alone(bridge):
    payment = bridge.start_payment(500)
    foreign = source_for(bridge, payment, metadata={"order": "9"})
    bridge.control(f"/sources/{foreign}/chargeable")
    failed = source_for(bridge, payment)
    bridge.control(f"/sources/{failed}/fail")
    pending = source_for(bridge, payment)
    event = dict(bridge.events("source.chargeable")[-1], id="evt_stale_copy")
    event["data"] = {"object": {"id": pending, "object": "source", "status": "chargeable"}}
    bridge.deliver_all()
    bridge.deliver(event)  # the payload says chargeable; Stripe says pending

    assert sorted(bridge.outcomes) == ["ignored_foreign", "ignored_state"]
    assert charges_of(bridge, foreign) == charges_of(bridge, pending) == []
    assert bridge.payment(payment.payment_id).status is S.PENDING


# --- bank accounts, deauthorization ---------------------------------------------------------


def test_a_verified_bank_account_is_saved_and_the_platform_reads_it(bridge):
    made = bridge.control("/customers", {"account": bridge.account, "email": "p@example.com"})
    customer, bank_account = made["customer"]["id"], made["bank_account"]["id"]
    bridge.control(f"/customers/{customer}/sources/{bank_account}/verify", {"result": "verified"})
    bridge.deliver_all()
    bridge.deliver_all()

    answer = invoke(
        "GET",
        f"/payment-methods/{bridge.account}/{bank_account}",
        None,
        {"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "verified"
    assert (answer.body["customer_id"], answer.body["last4"]) == (customer, "6789")
    told = [n for n in bridge.told_all() if n["type"] == "payment_method.updated"]
    assert [(n["payment_method_id"], n["status"]) for n in told][-1] == (bank_account, "verified")
    assert told[-1]["payment_method"] == answer.body  # what the platform reads, as it was told
    assert told[-1]["company_id"] == f"co_{bridge.account}"
    assert len({n["notification_id"] for n in told}) == len(told)
    missing = invoke(
        "GET",
        f"/payment-methods/{bridge.account}/ba_nope",
        None,
        {"Authorization": f"Bearer {TOKEN}"},
    )
    assert missing.status == 404
    assert invoke("GET", f"/payment-methods/{bridge.account}/{bank_account}").status == 401


def test_a_deauthorized_account_is_disconnected_and_its_later_events_are_not_acted_on(bridge):
    payment = bridge.start_payment(1300)
    pay(bridge, payment, "card")
    paid = bridge.handled(bridge.events())
    bridge.control(f"/accounts/{bridge.account}/deauthorize")
    bridge.deliver_all("account.application.deauthorized")
    bridge.deliver(*paid)  # arrives after the deauthorization

    account = wiring.account_store().get(bridge.account)
    assert account.status is AccountStatus.DISCONNECTED and account.disconnected_at
    assert bridge.outcomes == ["disconnected", "ignored_account", "ignored_account"]
    assert bridge.payment(payment.payment_id).status is S.PENDING


# --- never lost, never twice ----------------------------------------------------------------


class FlakyNotifier:
    """EventBridge refusing the first notifications, after the state was written."""

    def __init__(self, publish, failures):
        self.real_publish, self.failures = publish, failures

    def publish(self, notification):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("EventBridge unavailable")
        self.real_publish(notification)


def test_a_notification_lost_after_the_write_is_delivered_once_on_the_retry(bridge, monkeypatch):
    payment = bridge.start_payment(1600)
    pay(bridge, payment, "card")
    bus = wiring.notifier()
    monkeypatch.setattr(bus, "publish", FlakyNotifier(bus.publish, failures=1).publish)
    bridge.deliver_all("payment_intent.succeeded")

    assert bridge.payment(payment.payment_id).status is S.SUCCEEDED  # written, not yet told
    assert bridge.told(payment.payment_id) == [] and bridge.queue_depth() == 1
    time.sleep(1.1)  # the queue's visibility timeout: the message comes back
    bridge.deliver()
    bridge.deliver_all()  # and every event once more
    assert statuses(bridge.told(payment.payment_id)) == [("succeeded", "v1")]


def test_the_webhook_and_a_sync_racing_apply_the_change_once(bridge):
    payment = bridge.start_payment(1700)
    pay(bridge, payment, "card")
    event = bridge.events("payment_intent.succeeded")[-1]
    repairer, service = wiring.repairer(), wiring.payments_service()
    webhook = [lambda: repairer.handle(QueuedEvent.from_body(json.dumps(event)))] * 4
    assert together(*webhook, *[lambda: service.sync(payment.payment_id)] * 4) == []

    done = bridge.payment(payment.payment_id)
    assert (done.status, done.version) == (S.SUCCEEDED, 1)
    assert distinct(bridge.told(payment.payment_id)) == [("succeeded", "v1")]


def test_a_stripe_outage_retries_the_event_then_parks_it_and_corrupts_nothing(bridge, monkeypatch):
    with StripeStandin(port=0, api_key=STRIPE_KEY) as down:
        monkeypatch.setenv("STRIPE_API_BASE", down.url)
        wiring.reset()
        bridge.standin = down
        bridge.control("/accounts", {"id": bridge.account})
        payment = bridge.start_payment(1100)
        pay(bridge, payment, "card")
        events = bridge.handled(bridge.events())
    # The stand-in is stopped: Stripe is unreachable (for new connections; a fresh container's).
    wiring.reset()
    started = time.monotonic()
    bridge.queue(*events)
    for _ in range(MAX_RECEIVE_COUNT + 1):
        bridge.consume()
        time.sleep(1.1)
    assert time.monotonic() - started < 15
    assert bridge.payment(payment.payment_id) == payment  # untouched
    assert bridge.queue_depth() == 0
    assert bridge.queue_depth("EventsDeadLetterQueueUrl") == len(events)

    # Stripe is back; the operator sends the dead letters to the queue again.
    with down:
        redrive(bridge)
        while bridge.consume():
            pass
    done = bridge.payment(payment.payment_id)
    assert (done.status, done.amount_received) == (S.SUCCEEDED, 1100)
    assert statuses(bridge.told(payment.payment_id)) == [("succeeded", "v1")]


def redrive(bridge):
    sqs, dead = bridge.sqs, bridge.outputs["EventsDeadLetterQueueUrl"]
    while messages := sqs.receive_message(
        QueueUrl=dead, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
    ).get("Messages", []):
        for message in messages:
            sqs.send_message(
                QueueUrl=bridge.outputs["EventsQueueUrl"],
                MessageBody=message["Body"],
                MessageAttributes=message["MessageAttributes"],
            )
            sqs.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])
