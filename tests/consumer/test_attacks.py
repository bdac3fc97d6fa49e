"""Attacks by a connected account's holder (or a customer), through the real queue and consumer.

Each writes what it likes on Stripe objects of its own account, as the Stripe dashboard or API
lets it, and the events Stripe records for them reach the consumer as genuine events do. None
may move money or a payment, and none may reach the dead-letter queue.
"""

from __future__ import annotations

import json
import urllib.error

import pytest
import stripe

from chalicelib import wiring
from chalicelib.adapters.messaging import SqsEventQueue
from chalicelib.domain.metadata import SigningKeys, payment_metadata
from chalicelib.domain.payments import InvoiceLine, Payment, PaymentStatus
from chalicelib.domain.webhooks import envelope_of
from tests.consumer.conftest import STRIPE_KEY, Bridge
from tests.consumer.test_events import charges_of, pay, source_for, statuses

S = PaymentStatus
FORGER = SigningKeys.parse("the-account-holder-made-this-key-up-0123456789")


def as_holder(bridge: Bridge) -> stripe.StripeClient:
    """The account holder's own API access to their account (what their dashboard does)."""
    return stripe.StripeClient(STRIPE_KEY, base_addresses={"api": bridge.standin.url})


def holder_payment_intent(bridge: Bridge, amount: int, metadata: dict) -> str:
    intent = as_holder(bridge).v1.payment_intents.create(
        {"amount": amount, "currency": "usd", "metadata": metadata},
        {"stripe_account": bridge.account},
    )
    bridge.control(f"/payment_intents/{intent.id}/pay", {"method": "card"})
    return intent.id


def assert_nothing_parked(bridge: Bridge) -> None:
    assert bridge.queue_depth() == 0
    assert bridge.queue_depth("EventsDeadLetterQueueUrl") == 0


@pytest.fixture
def victim(aws, standin, outputs) -> Bridge:
    """Company B, whose Stripe account is another one."""
    return Bridge(aws, standin, outputs)


def test_forged_metadata_naming_another_company_is_ignored(bridge, victim):
    company_b = f"co_{victim.account}"
    # As reproduced: company A's holder names company B and an invoice of 100,000.
    as_reproduced = {
        "owner": "stripe-bridge",
        "payment_id": "pay_forged",
        "company_id": company_b,
        "created_at": "2026-11-29T00:00:00.000+00:00",
        "invoices_0": "INV-1=100000",
    }
    # The same, complete, with a MAC from a key of the holder's own.
    made_up = Payment(
        "pay_forged",
        company_b,
        bridge.account,
        50,
        "usd",
        (InvoiceLine("INV-1", 50),),
        "2026-11-29T00:00:00.000+00:00",
    )
    for metadata in (as_reproduced, payment_metadata(made_up, FORGER)):
        holder_payment_intent(bridge, 50, metadata)
    bridge.deliver_all("payment_intent.succeeded")

    assert bridge.outcomes == ["ignored_foreign", "ignored_foreign"]
    assert wiring.payment_store().get("pay_forged") is None
    assert bridge.told("pay_forged") == []
    assert_nothing_parked(bridge)


def test_a_50_cent_payment_intent_with_a_copy_of_a_real_payments_metadata_pays_nothing(bridge):
    payment = bridge.start_payment(1500)
    # The holder reads the genuine PaymentIntent's metadata in their dashboard.
    genuine = as_holder(bridge).v1.payment_intents.retrieve(
        payment.payment_intent_id, options={"stripe_account": bridge.account}
    )
    copy = genuine.to_dict()["metadata"]
    holder_payment_intent(bridge, 50, copy)
    holder_payment_intent(bridge, 1500, copy)  # even for the full amount: not its PaymentIntent
    bridge.deliver_all("payment_intent.succeeded")

    assert bridge.outcomes == ["ignored_foreign", "ignored_foreign"]
    stored = bridge.payment(payment.payment_id)
    assert (stored.status, stored.amount_received) == (S.PENDING, 0)
    assert bridge.told(payment.payment_id) == []
    assert_nothing_parked(bridge)


def test_a_source_with_forged_metadata_is_never_charged(bridge):
    payment = bridge.start_payment(1600)
    forged = payment_metadata(payment, FORGER)
    unsigned = {k: v for k, v in payment_metadata(payment, FORGER).items() if k != "signature"}
    sources = [source_for(bridge, payment, metadata) for metadata in (forged, unsigned)]
    for source_id in sources:
        bridge.control(f"/sources/{source_id}/chargeable")
    bridge.deliver_all()

    assert bridge.outcomes == ["ignored_foreign", "ignored_foreign"]
    assert [charges_of(bridge, s) for s in sources] == [[], []]
    assert bridge.payment(payment.payment_id).status is S.PENDING
    assert_nothing_parked(bridge)


def test_a_50_cent_source_naming_a_1600_payment_gets_no_charge(bridge):
    started = bridge.start(1600)
    source_id = source_for(bridge, started.payment, started.source_metadata, amount=50)
    bridge.control(f"/sources/{source_id}/chargeable")
    bridge.deliver_all()

    assert bridge.outcomes == ["ignored_foreign"]
    assert charges_of(bridge, source_id) == []
    assert bridge.payment(started.payment.payment_id).status is S.PENDING
    assert_nothing_parked(bridge)


def declined_then_a_chargeable_source(bridge):
    """A card payment declined, then the customer's bank transfer Source for it is chargeable."""
    started = bridge.start(1500)
    pay(bridge, started.payment, "card", outcome="declined")
    bridge.deliver_all()
    source_id = source_for(bridge, started.payment, started.source_metadata)
    bridge.control(f"/sources/{source_id}/chargeable")
    return started.payment, source_id


def test_card_declined_then_a_source_pays_and_the_payment_intent_can_no_longer_be_paid(bridge):
    payment, source_id = declined_then_a_chargeable_source(bridge)
    bridge.deliver_all()

    # The customer comes back to the card form and tries again: Stripe refuses.
    with pytest.raises(urllib.error.HTTPError) as refused:
        pay(bridge, payment, "card")
    assert refused.value.code == 400
    bridge.deliver_all()

    done = bridge.payment(payment.payment_id)
    assert (done.status, done.charge_id, done.duplicate_charges) == (
        S.SUCCEEDED,
        charges_of(bridge, source_id)[0],
        (),
    )
    card_charges = [
        e for e in bridge.events("charge.succeeded") if not e["data"]["object"].get("source")
    ]
    assert card_charges == []
    assert statuses(bridge.told(payment.payment_id)) == [("failed", "v1"), ("succeeded", "v3")]
    assert_nothing_parked(bridge)


def test_a_source_whose_payment_intent_was_paid_first_is_not_charged(bridge):
    payment, source_id = declined_then_a_chargeable_source(bridge)
    pay(bridge, payment, "card")  # paid before the consumer got to the Source
    bridge.deliver_all("source.chargeable")
    bridge.deliver_all()

    assert charges_of(bridge, source_id) == []
    done = bridge.payment(payment.payment_id)
    assert (done.status, done.amount_received, done.duplicate_charges) == (S.SUCCEEDED, 1500, ())
    assert statuses(bridge.told(payment.payment_id))[-1] == ("succeeded", "v3")


@pytest.mark.parametrize(
    "garbage",
    [
        {"invoices_0": "garbage"},
        {"invoices_0": "INV-1=1e9"},
        {"amount": "-5"},
        {"signature": "v1=" + "z" * 64},
    ],
)
def test_garbage_metadata_is_ignored_not_retried(bridge, garbage):
    # The metadata of a payment the service would rebuild (never stored), made garbage.
    lost = Payment(
        f"pay_lost_{bridge.account[-8:]}",
        f"co_{bridge.account}",
        bridge.account,
        700,
        "usd",
        (InvoiceLine("INV-1", 700),),
        "2026-11-29T00:00:00.000+00:00",
    )
    metadata = {**payment_metadata(lost, wiring.metadata_keys()), **garbage}
    holder_payment_intent(bridge, 700, metadata)
    bridge.deliver_all("payment_intent.succeeded")
    assert bridge.outcomes == ["ignored_foreign"]
    assert wiring.payment_store().get(lost.payment_id) is None
    assert_nothing_parked(bridge)


def test_an_object_the_account_does_not_have_is_ignored_not_retried(bridge):
    payment = bridge.start_payment(900)
    pay(bridge, payment, "card")
    genuine = bridge.events("payment_intent.succeeded")[-1]
    forged = json.loads(json.dumps(genuine))
    forged["id"] = genuine["id"] + "forged"
    forged["data"]["object"]["id"] = "pi_not_on_this_account"
    bridge.deliver(forged)
    assert bridge.outcomes == ["ignored_missing"]
    assert bridge.payment(payment.payment_id).status is S.PENDING
    assert_nothing_parked(bridge)


def test_an_event_that_cannot_be_read_is_ignored_not_retried(bridge):
    queue = SqsEventQueue(bridge.sqs, bridge.outputs["EventsQueueUrl"])
    genuine = {"id": "evt_unreadable", "type": "payment_intent.succeeded", "livemode": False}
    event = {**genuine, "account": bridge.account, "object": "event"}
    queue.send(envelope_of(event), json.dumps({**event, "data": "not an object"}))
    while bridge.consume():
        pass
    assert bridge.outcomes == ["ignored_malformed"]
    assert_nothing_parked(bridge)


def test_an_event_id_used_by_another_account_does_not_shadow_a_genuine_event(bridge, victim):
    payment = victim.start_payment(1200)
    pay(victim, payment, "card")
    genuine = victim.events("payment_intent.succeeded")[-1]
    # The attacker signs, for their own dedicated URL, an event of their own account that
    # carries the victim's event id, and gets it queued first.
    holder_payment_intent(bridge, 300, {"order": "1"})
    shadow = dict(bridge.events("payment_intent.succeeded")[-1], id=genuine["id"])
    bridge.deliver(shadow)
    victim.deliver(genuine)

    assert bridge.outcomes == ["ignored_foreign"] and victim.outcomes == ["applied"]
    assert victim.payment(payment.payment_id).status is S.SUCCEEDED


def test_events_of_an_account_that_revoked_the_platform_are_ignored_not_retried(bridge):
    payment = bridge.start_payment(800)
    pay(bridge, payment, "card")
    paid = bridge.events("payment_intent.succeeded")
    # The holder revokes access; their queued events arrive before the deauthorization.
    bridge.control(f"/accounts/{bridge.account}/deauthorize")
    bridge.deliver(*paid)
    assert bridge.outcomes == ["ignored_account"]
    assert_nothing_parked(bridge)
