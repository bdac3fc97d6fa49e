"""The repair engine, event type by event type, against in-memory ports and Stripe's states."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.errors import MalformedEvent
from chalicelib.domain.metadata import SigningKeys, payment_metadata
from chalicelib.domain.payments import InvoiceLine, Payment, PaymentStatus
from chalicelib.services.repair import Outcome, QueuedEvent, Repairer
from local.stripe_standin.state import Store
from tests.unit.fakes import (
    MemoryAccounts,
    MemoryPaymentMethods,
    MemoryPayments,
    NotifierDown,
    RecordingNotifier,
    StoreStripe,
)

ACCOUNT = "acct_1Repair"
OTHER = "acct_1Other"
NOW = "2026-11-29T12:00:00.000+00:00"
S = PaymentStatus
KEYS = SigningKeys.parse("unit-repair-metadata-key-0123456789abcdef")


class Harness:
    def __init__(self) -> None:
        self.store = Store(client_id="ca_test")
        for account_id in (ACCOUNT, OTHER):
            self.store.connect_account(account_id=account_id)
        self.stripe = StoreStripe(self.store)
        self.payments = MemoryPayments()
        self.accounts = MemoryAccounts(
            ConnectedAccount(ACCOUNT, "co_1", False, NOW),
            ConnectedAccount(OTHER, "co_2", False, NOW),
        )
        self.methods = MemoryPaymentMethods()
        self.notifier = RecordingNotifier()
        self.repairer = Repairer(
            self.payments,
            self.accounts,
            self.stripe,
            self.notifier,
            lambda: NOW,
            self.methods,
            KEYS,
        )

    def payment(self, amount=1500, currency="usd", account=ACCOUNT, store_it=True, **fields):
        payment = Payment(
            f"pay_{len(self.payments.items) + 1}",
            "co_1",
            account,
            amount,
            currency,
            (InvoiceLine("INV-1", amount),),
            NOW,
            **fields,
        )
        if store_it:
            self.payments.insert(payment)
        return payment

    def intent_for(self, payment, metadata=None):
        intent = self.store.create_payment_intent(
            payment.account_id,
            amount=payment.amount,
            currency=payment.currency,
            metadata=payment_metadata(payment, KEYS) if metadata is None else metadata,
            payment_method_types=None,
            customer=None,
            description=None,
        )
        if payment.payment_id in self.payments.items:
            self.payments.items[payment.payment_id] = replace(
                self.payments.items[payment.payment_id], payment_intent_id=intent["id"]
            )
        return intent["id"]

    def source_for(self, payment, metadata=None, amount=None):
        return self.store.create_source(
            payment.account_id,
            source_type="ach_credit_transfer",
            amount=amount or payment.amount,
            currency=payment.currency,
            metadata=payment_metadata(payment, KEYS) if metadata is None else metadata,
            customer=None,
            email=None,
        )["id"]

    def events(self, event_type, account=ACCOUNT):
        return [e for e in reversed(self.store.list_events(account)) if e["type"] == event_type]

    def handle(self, event, account=None):
        if account is not None:
            event = dict(event, account=account)
        return self.repairer.handle(QueuedEvent.from_body(json.dumps(event)))

    def last(self, event_type, account=ACCOUNT):
        return self.handle(self.events(event_type, account)[-1])


@pytest.fixture
def h():
    return Harness()


def test_a_succeeded_payment_intent_completes_the_payment_once(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card")

    assert h.last("payment_intent.succeeded") is Outcome.APPLIED
    assert h.last("payment_intent.succeeded") is Outcome.APPLIED  # a duplicate
    stored = h.payments.get(payment.payment_id)
    assert (stored.status, stored.amount_received, stored.version) == (S.SUCCEEDED, 1500, 1)
    assert stored.charge_id == h.store.get(ACCOUNT, "payment_intent", pi)["latest_charge"]
    assert h.notifier.ids() == [f"{payment.payment_id}.v1"]


def test_a_payment_intent_the_service_never_created_is_ignored(h):
    pi = h.intent_for(h.payment(store_it=False), metadata={"order": "42"})
    h.store.pay(pi, method="card")
    assert h.last("payment_intent.succeeded") is Outcome.IGNORED_FOREIGN
    assert h.payments.items == {} and h.notifier.published == []


def test_a_payment_intent_naming_a_payment_of_another_account_settles_nothing(h):
    victim = h.payment(account=OTHER)
    # The other account's holder writes our metadata on a PaymentIntent of their own.
    pi = h.intent_for(replace(victim, account_id=ACCOUNT), metadata=payment_metadata(victim, KEYS))
    h.store.pay(pi, method="card")
    assert h.last("payment_intent.succeeded") is Outcome.IGNORED_FOREIGN
    assert h.payments.get(victim.payment_id).status is S.PENDING


def test_a_payment_intent_in_another_currency_than_its_metadata_settles_nothing(h):
    payment = h.payment(currency="usd")
    pi = h.intent_for(replace(payment, currency="eur"), metadata=payment_metadata(payment, KEYS))
    h.store.pay(pi, method="card")
    assert h.last("payment_intent.succeeded") is Outcome.IGNORED_FOREIGN
    assert h.payments.get(payment.payment_id).status is S.PENDING


def test_a_bank_debit_is_processing_then_succeeds_and_late_processing_changes_nothing(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="us_bank_account")
    processing = h.events("payment_intent.processing")[-1]
    assert h.handle(processing) is Outcome.APPLIED
    assert h.payments.get(payment.payment_id).status is S.PROCESSING
    h.store.settle(pi)
    h.last("payment_intent.succeeded")
    h.handle(processing)  # delivered again, late
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED
    assert [n["status"] for n in h.notifier.published] == ["processing", "succeeded"]


def test_a_failed_debit_keeps_stripes_reason_and_a_retry_still_wins(h):
    payment = h.payment(currency="eur")
    pi = h.intent_for(payment)
    h.store.pay(pi, method="sepa_debit")
    h.store.fail_debit(pi, code="insufficient_funds")
    failed_event = h.events("payment_intent.payment_failed")[-1]
    h.handle(failed_event)
    failed = h.payments.get(payment.payment_id)
    assert (failed.status, failed.failure_code) == (S.FAILED, "insufficient_funds")
    assert "insufficient funds" in failed.failure_message

    h.store.pay(pi, method="sepa_debit")
    h.store.settle(pi)
    h.last("payment_intent.succeeded")
    h.handle(failed_event)  # the old failure, delivered again
    done = h.payments.get(payment.payment_id)
    assert (done.status, done.failure_code, done.failure_message) == (S.SUCCEEDED, None, None)


def test_partial_fundings_add_up_from_stripes_totals_never_twice(h):
    payment = h.payment(amount=1000)
    pi = h.intent_for(payment)
    h.store.pay(pi, method="customer_balance")
    h.store.fund(pi, amount=300)
    first = h.events("payment_intent.partially_funded")[-1]
    h.handle(first)
    h.handle(first)
    h.store.fund(pi, amount=450)
    h.last("payment_intent.partially_funded")
    h.handle(first)
    stored = h.payments.get(payment.payment_id)
    assert (stored.status, stored.amount_received, stored.amount_remaining) == (
        S.PARTIALLY_FUNDED,
        750,
        250,
    )
    h.store.fund(pi)
    h.last("payment_intent.succeeded")
    stored = h.payments.get(payment.payment_id)
    assert (stored.status, stored.amount_received, stored.amount_remaining) == (
        S.SUCCEEDED,
        1000,
        0,
    )


def test_a_charge_of_a_payment_intent_is_read_through_its_payment_intent(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card")
    h.stripe.calls.clear()
    assert h.last("charge.succeeded") is Outcome.APPLIED
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED
    assert h.stripe.calls == ["retrieve_payment_intent"]
    # The PaymentIntent's own event shows nothing the payment does not know: Stripe is not asked.
    assert h.last("payment_intent.succeeded") is Outcome.APPLIED
    assert h.stripe.calls == ["retrieve_payment_intent"]
    assert len(h.notifier.published) == 1


def test_a_charge_event_without_the_payments_metadata_finds_it_through_stripe(h):
    payment = h.payment()
    h.store.pay(h.intent_for(payment), method="card")
    event = h.events("charge.succeeded")[-1]
    event["data"]["object"]["metadata"] = {}
    h.stripe.calls.clear()
    assert h.handle(event) is Outcome.APPLIED
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED
    assert h.stripe.calls[:2] == ["retrieve_charge", "retrieve_payment_intent"]


def test_only_what_stripe_says_is_applied_whatever_the_events_copy_shows(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card")
    event = h.events("payment_intent.succeeded")[-1]
    # A copy of the object saying "still pending" (forged or stale) hides nothing: the real
    # change comes with its own event, and this one, showing nothing new, asks nothing.
    event["data"]["object"].update(status="requires_payment_method", amount_received=0)
    h.stripe.calls.clear()
    assert h.handle(event) is Outcome.APPLIED
    assert h.stripe.calls == [] and h.payments.get(payment.payment_id).status is S.PENDING
    # A copy saying "succeeded" makes the service read Stripe, and only what Stripe says counts.
    event["data"]["object"].update(status="succeeded", amount_received=payment.amount)
    assert h.handle(event) is Outcome.APPLIED
    assert h.stripe.calls == ["retrieve_payment_intent"]
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED


def test_a_canceled_payment_intent_ends_the_payment(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.cancel_payment_intent(ACCOUNT, pi, reason="abandoned")
    h.last("payment_intent.canceled")
    assert h.payments.get(payment.payment_id).status is S.CANCELED


# --- legacy Sources -------------------------------------------------------------------------


def test_a_chargeable_source_is_charged_once_and_completes_its_payment(h):
    payment = h.payment()
    src = h.source_for(payment)
    h.store.set_source_status(src, "chargeable")
    chargeable = h.events("source.chargeable")[-1]

    assert h.handle(chargeable) is Outcome.APPLIED
    assert h.handle(chargeable) is Outcome.IGNORED_STATE  # consumed now: left alone
    stored = h.payments.get(payment.payment_id)
    charge = h.store.get(ACCOUNT, "charge", stored.charge_id)
    assert (stored.status, stored.source_id, stored.amount_received) == (S.SUCCEEDED, src, 1500)
    assert charge["payment_intent"] is None
    assert charge["metadata"] == payment_metadata(payment, KEYS)
    assert h.stripe.calls.count("create_charge") == 1
    assert h.last("charge.succeeded") is Outcome.APPLIED
    assert h.notifier.ids() == [f"{payment.payment_id}.v2"]  # v1 linked the source, silently


def test_two_consumers_charging_the_same_source_get_one_charge(h):
    payment = h.payment()
    src = h.source_for(payment)
    h.store.set_source_status(src, "chargeable")
    chargeable = h.events("source.chargeable")[-1]
    seen_source = h.store.get(ACCOUNT, "source", src)
    h.handle(chargeable)
    linked = replace(payment, source_id=src, version=1)
    # The second one read the source and the payment while the first was between its link
    # and its charge; it reads the present once Stripe's answer makes its write fail.
    writes = h.payments.writes
    h.stripe.as_of = lambda: {src: seen_source}
    h.payments.as_of = lambda: {payment.payment_id: linked} if h.payments.writes == writes else None
    assert h.handle(chargeable) is Outcome.APPLIED

    assert h.stripe.calls.count("create_charge") == 2
    charges = [e["data"]["object"]["id"] for e in h.events("charge.succeeded")]
    assert len(charges) == 1 and h.payments.get(payment.payment_id).charge_id == charges[0]
    assert h.notifier.ids() == [f"{payment.payment_id}.v2"]


def test_a_charge_whose_answer_was_lost_still_completes_the_payment(h):
    payment = h.payment()
    src = h.source_for(payment)
    h.store.set_source_status(src, "chargeable")
    h.payments.items[payment.payment_id] = replace(payment, source_id=src, version=1)
    # Created, then the consumer died before recording it; only charge.succeeded remains.
    h.store.charge_source(
        ACCOUNT,
        source_id=src,
        amount=1500,
        currency="usd",
        metadata={},
        description=None,
        customer=None,
    )
    assert h.last("charge.succeeded") is Outcome.APPLIED
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED


def test_a_source_for_a_payment_never_stored_rebuilds_it_from_its_metadata(h):
    payment = h.payment(amount=2500, store_it=False)
    src = h.source_for(payment)
    h.store.set_source_status(src, "chargeable")
    h.last("source.chargeable")
    rebuilt = h.payments.get(payment.payment_id)
    assert (rebuilt.amount, rebuilt.invoices, rebuilt.source_id) == (2500, payment.invoices, src)
    assert (rebuilt.status, rebuilt.payment_intent_id) == (S.SUCCEEDED, None)


@pytest.mark.parametrize(
    "case", ["not ours", "still pending", "payment already paid", "payment has another source"]
)
def test_a_source_that_must_not_be_charged_is_left_alone(h, case):
    payment = h.payment()
    src = h.source_for(payment, metadata={"order": "7"} if case == "not ours" else None)
    if case == "payment already paid":
        h.payments.items[payment.payment_id] = replace(payment, status=S.SUCCEEDED, version=1)
    if case == "payment has another source":
        h.payments.items[payment.payment_id] = replace(payment, source_id="src_first", version=1)
    if case != "still pending":
        h.store.set_source_status(src, "chargeable")
    event = {
        "id": "evt_1",
        "type": "source.chargeable",
        "account": ACCOUNT,
        "livemode": False,
        "data": {"object": h.store.get(ACCOUNT, "source", src)},
    }
    foreign = case in ("not ours", "payment has another source")
    expected = Outcome.IGNORED_FOREIGN if foreign else Outcome.IGNORED_STATE
    assert h.handle(event) is expected
    assert "create_charge" not in h.stripe.calls
    assert h.store.get(ACCOUNT, "source", src)["status"] in ("pending", "chargeable")


# --- bank accounts, accounts ----------------------------------------------------------------


def test_a_verified_bank_account_is_saved_and_never_goes_back(h):
    made = h.store.create_customer(ACCOUNT, email="payer@example.com")
    customer, bank_account = made["customer"]["id"], made["bank_account"]
    h.store.verify_bank_account(customer, bank_account["id"], result="verified")
    updated = h.events("customer.source.updated")[-1]
    assert h.handle(updated) is Outcome.APPLIED
    saved = h.methods.get(ACCOUNT, bank_account["id"])
    assert (saved.status, saved.customer_id, saved.last4) == ("verified", customer, "6789")

    # A consumer that read the bank account before it was verified writes late.
    h.stripe.retrieve_bank_account = lambda *args: dict(bank_account, status="new")
    h.handle(updated)
    assert h.methods.get(ACCOUNT, bank_account["id"]).status == "verified"


def test_a_card_updated_on_a_customer_is_not_a_saved_bank_account(h):
    event = {
        "id": "evt_1",
        "type": "customer.source.updated",
        "account": ACCOUNT,
        "livemode": False,
        "data": {"object": {"id": "card_1", "object": "card", "customer": "cus_1"}},
    }
    assert h.handle(event) is Outcome.IGNORED_TYPE and h.methods.items == {}


def test_a_deauthorized_account_is_disconnected_and_its_later_events_ignored(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card", deliver=False)
    h.store.disconnect_account(ACCOUNT)

    assert h.last("account.application.deauthorized") is Outcome.DISCONNECTED
    assert h.last("account.application.deauthorized") is Outcome.DISCONNECTED  # again
    assert h.accounts.get(ACCOUNT).status is AccountStatus.DISCONNECTED
    assert h.last("payment_intent.succeeded") is Outcome.IGNORED_ACCOUNT
    assert h.payments.get(payment.payment_id).status is S.PENDING


def test_a_late_deauthorization_does_not_cut_off_an_account_connected_again(h):
    h.store.disconnect_account(ACCOUNT)
    h.store.connect_account(account_id=ACCOUNT)
    assert h.last("account.application.deauthorized") is Outcome.IGNORED_STATE
    assert h.accounts.get(ACCOUNT).has_access


def test_an_unknown_account_is_acknowledged_and_nothing_else(h):
    event = {
        "id": "evt_1",
        "type": "account.application.deauthorized",
        "account": "acct_nope",
        "livemode": False,
        "data": {"object": {"id": "ca_1", "object": "application"}},
    }
    assert h.handle(event) is Outcome.IGNORED_ACCOUNT


# --- the outbox -----------------------------------------------------------------------------


def test_a_notification_lost_after_the_write_is_published_once_on_the_retry(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card")
    event = h.events("payment_intent.succeeded")[-1]
    h.notifier.down = True
    with pytest.raises(NotifierDown):
        h.handle(event)
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED  # written, not told
    h.notifier.down = False
    h.handle(event)
    h.handle(event)
    assert h.notifier.ids() == [f"{payment.payment_id}.v1"]
    assert h.payments.unpublished(payment.payment_id) == []


# --- only what this service created ---------------------------------------------------------

FORGER = SigningKeys.parse("a-key-the-account-holder-made-up-0123456789")


def test_metadata_not_signed_by_the_service_is_not_ours_and_rebuilds_nothing(h):
    stranger = replace(h.payment(store_it=False), company_id="co_2", amount=50)
    stranger = replace(stranger, invoices=(InvoiceLine("INV-1", 50),))
    forged = payment_metadata(stranger, FORGER)
    unsigned = {k: v for k, v in forged.items() if k != "signature"}
    for metadata in (forged, unsigned, {**forged, "invoices_0": "garbage"}):
        pi = h.intent_for(stranger, metadata=metadata)
        h.store.pay(pi, method="card")
        assert h.last("payment_intent.succeeded") is Outcome.IGNORED_FOREIGN
    assert h.payments.items == {} and h.notifier.published == []


def test_a_copy_of_a_real_payments_metadata_settles_only_its_own_payment_intent(h):
    payment = h.payment(amount=1500)
    h.intent_for(payment)
    copied = payment_metadata(payment, KEYS)
    cheap = h.intent_for(replace(payment, amount=50, payment_id="pay_x"), metadata=copied)
    h.store.pay(cheap, method="card")
    assert h.last("payment_intent.succeeded") is Outcome.IGNORED_FOREIGN
    same_amount = h.intent_for(replace(payment, payment_id="pay_y"), metadata=copied)
    h.store.pay(same_amount, method="card")
    assert h.last("payment_intent.succeeded") is Outcome.IGNORED_FOREIGN
    stored = h.payments.get(payment.payment_id)
    assert (stored.status, stored.amount_received) == (S.PENDING, 0)
    assert h.notifier.published == []


def test_metadata_signed_with_the_previous_key_is_still_accepted_while_rotating(h):
    old = SigningKeys.parse("the-previous-metadata-key-0123456789abcdef")
    rotated = SigningKeys((*KEYS.keys, *old.keys))
    h.repairer.keys = rotated
    payment = h.payment(store_it=False)
    pi = h.intent_for(payment, metadata=payment_metadata(payment, old))
    h.store.pay(pi, method="card")
    assert h.last("payment_intent.succeeded") is Outcome.APPLIED
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED


def test_an_object_stripe_does_not_have_on_the_account_is_ignored(h):
    event = {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "account": ACCOUNT,
        "livemode": False,
        "data": {"object": {"id": "pi_does_not_exist", "object": "payment_intent"}},
    }
    assert h.handle(event) is Outcome.IGNORED_MISSING


def test_a_source_with_forged_or_short_metadata_is_never_charged(h):
    payment = h.payment(amount=1600)
    forged = h.source_for(payment, metadata=payment_metadata(payment, FORGER))
    short = h.source_for(payment, amount=50)  # a real payment's metadata, for 50 cents
    for source_id in (forged, short):
        h.store.set_source_status(source_id, "chargeable")
        assert h.last("source.chargeable") is Outcome.IGNORED_FOREIGN
    assert "create_charge" not in h.stripe.calls
    assert h.payments.get(payment.payment_id) == payment


def test_a_source_is_charged_only_once_its_payment_intent_is_canceled(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card", outcome="declined")
    h.last("payment_intent.payment_failed")
    src = h.source_for(payment)
    h.store.set_source_status(src, "chargeable")
    assert h.last("source.chargeable") is Outcome.APPLIED
    assert h.stripe.calls.index("cancel_payment_intent") < h.stripe.calls.index("create_charge")
    assert h.store.get(ACCOUNT, "payment_intent", pi)["status"] == "canceled"
    h.last("payment_intent.canceled")  # the service's own cancel, delivered
    done = h.payments.get(payment.payment_id)
    assert (done.status, done.duplicate_charges) == (S.SUCCEEDED, ())
    assert h.store.get(ACCOUNT, "charge", done.charge_id)["source"]["id"] == src
    assert [n["status"] for n in h.notifier.published] == ["failed", "succeeded"]


def test_a_source_of_a_payment_its_payment_intent_paid_is_not_charged(h):
    payment = h.payment()
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card", deliver=False)
    src = h.source_for(payment)
    h.store.set_source_status(src, "chargeable")
    assert h.last("source.chargeable") is Outcome.IGNORED_STATE
    assert "create_charge" not in h.stripe.calls
    assert h.payments.get(payment.payment_id).status is S.SUCCEEDED  # the PaymentIntent's state


def test_a_payment_paid_twice_records_the_duplicate_and_tells_the_platform(h):
    payment = h.payment()
    src = h.source_for(payment)
    h.store.set_source_status(src, "chargeable")
    h.last("source.chargeable")  # paid by its Source: v1 bound it, v2 succeeded
    # Its PaymentIntent paid as well (a customer the service could not stop in time).
    pi = h.intent_for(payment)
    h.store.pay(pi, method="card")
    h.last("payment_intent.succeeded")
    h.last("payment_intent.succeeded")  # delivered again: recorded once

    stored = h.payments.get(payment.payment_id)
    second = h.store.get(ACCOUNT, "payment_intent", pi)["latest_charge"]
    assert stored.status is S.SUCCEEDED and stored.charge_id not in (None, second)
    assert [(c.charge_id, c.amount) for c in stored.duplicate_charges] == [(second, 1500)]
    assert h.notifier.ids() == [f"{payment.payment_id}.v2", f"{payment.payment_id}.v3"]
    told = h.notifier.published[-1]
    assert (told["status"], told["duplicate_charges"]) == (
        "succeeded",
        [{"charge_id": second, "amount": 1500}],
    )
    assert h.store.get(ACCOUNT, "charge", second)["refunded"] is False  # never refunded here


@given(
    st.one_of(
        st.text(max_size=40),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda children: st.lists(children, max_size=3)
            | st.dictionaries(st.sampled_from(["id", "type", "data", "object"]), children),
            max_leaves=8,
        ).map(json.dumps),
        st.just("[" * 100_000 + "]" * 100_000),
    )
)
def test_any_queued_body_is_an_event_or_malformed_never_a_crash(body):
    try:
        event = QueuedEvent.from_body(body)
    except MalformedEvent:
        return
    assert isinstance(event.data_object["id"], str)
