"""The payment state rules: what each observation of Stripe does to a payment."""

import pytest

from chalicelib.domain.errors import CurrencyMismatch, MalformedObject
from chalicelib.domain.payments import (
    DuplicateCharge,
    InvoiceLine,
    Observation,
    Payment,
    PaymentStatus,
    apply,
    notification_of,
    observe_charge,
    observe_payment_intent,
)

NOW = "2026-11-29T12:00:00.000+00:00"
S = PaymentStatus


def payment(**changes):
    base = Payment(
        payment_id="pay_1",
        company_id="co_1",
        account_id="acct_1",
        amount=5000,
        currency="eur",
        invoices=(InvoiceLine("inv_1", 5000),),
        created_at=NOW,
        payment_intent_id="pi_1",
    )
    return Payment(**{**base.__dict__, **changes})


def intent(status, **fields):
    return {"id": "pi_1", "amount": 5000, "currency": "eur", "status": status, **fields}


def test_succeeded_records_amount_and_charge_and_bumps_version():
    result = apply(
        payment(),
        observe_payment_intent(intent("succeeded", amount_received=5000, latest_charge="ch_1")),
        NOW,
    )
    assert result.status is S.SUCCEEDED
    assert (result.amount_received, result.amount_remaining, result.charge_id) == (5000, 0, "ch_1")
    assert result.version == 1 and result.updated_at == NOW


def test_the_same_observation_twice_changes_nothing_the_second_time():
    seen = observe_payment_intent(intent("succeeded", amount_received=5000, latest_charge="ch_1"))
    once = apply(payment(), seen, NOW)
    assert apply(once, seen, NOW) is None


@pytest.mark.parametrize("late", ["processing", "requires_payment_method", "requires_action"])
def test_nothing_moves_a_succeeded_payment(late):
    done = payment(status=S.SUCCEEDED, amount_received=5000, charge_id="ch_1", version=3)
    assert apply(done, observe_payment_intent(intent(late, latest_charge="ch_1")), NOW) is None


def test_failure_keeps_stripes_code_and_message():
    seen = observe_payment_intent(
        intent(
            "requires_payment_method",
            latest_charge="ch_1",
            last_payment_error={
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            },
        )
    )
    result = apply(payment(status=S.PROCESSING, charge_id="ch_1"), seen, NOW)
    assert (result.status, result.failure_code) == (S.FAILED, "insufficient_funds")
    assert result.failure_message == "Your card has insufficient funds."


def test_a_retried_attempt_may_succeed_after_a_failure_and_clears_the_failure():
    failed = payment(status=S.FAILED, charge_id="ch_1", failure_code="card_declined")
    result = apply(
        failed,
        observe_payment_intent(intent("succeeded", amount_received=5000, latest_charge="ch_2")),
        NOW,
    )
    assert result.status is S.SUCCEEDED and result.failure_code is None


def test_a_stale_processing_of_the_failed_attempt_does_not_undo_the_failure():
    failed = payment(status=S.FAILED, charge_id="ch_1")
    assert (
        apply(failed, observe_payment_intent(intent("processing", latest_charge="ch_1")), NOW)
        is None
    )


def test_a_new_attempt_processing_after_a_failure_moves_on():
    failed = payment(status=S.FAILED, charge_id="ch_1")
    result = apply(failed, observe_payment_intent(intent("processing", latest_charge="ch_2")), NOW)
    assert result.status is S.PROCESSING and result.charge_id == "ch_2"


def declined(payment_method, charge=None, code="card_declined", message="Declined."):
    return intent(
        "requires_payment_method",
        latest_charge=charge,
        payment_method=None,
        last_payment_error={
            "code": code,
            "message": message,
            "charge": charge,
            "payment_method": {"id": payment_method, "object": "payment_method"},
        },
    )


def card_declined_payment():
    result = apply(payment(), observe_payment_intent(declined("pm_card", "ch_1")), NOW)
    assert (result.status, result.payment_method_id, result.charge_id) == (
        S.FAILED,
        "pm_card",
        "ch_1",
    )
    return result


def test_a_bank_transfer_after_a_declined_card_is_a_new_attempt_without_a_charge():
    failed = card_declined_payment()
    part = bank_transfer(600, 400, payment_method="pm_transfer", latest_charge="ch_1")
    result = apply(failed, observe_payment_intent(part), NOW)
    assert (result.status, result.amount_received, result.amount_remaining) == (
        S.PARTIALLY_FUNDED,
        400,
        600,
    )
    assert (result.failure_code, result.failure_message, result.version) == (None, None, 2)


def test_transfer_instructions_shown_after_a_failure_put_the_payment_back_to_pending():
    failed = card_declined_payment()
    shown = bank_transfer(5000, 0, payment_method="pm_transfer", latest_charge="ch_1")
    result = apply(failed, observe_payment_intent(shown), NOW)
    assert (result.status, result.failure_code, result.charge_id) == (S.PENDING, None, "ch_1")


def test_a_second_failure_without_a_charge_is_recorded_and_seen_twice_only_once():
    authentication = {"code": "payment_intent_authentication_failure", "message": "3DS failed."}
    first = apply(payment(), observe_payment_intent(declined("pm_1", **authentication)), NOW)
    second_seen = observe_payment_intent(declined("pm_2", **authentication))
    second = apply(first, second_seen, NOW)
    assert (second.status, second.payment_method_id, second.version) == (S.FAILED, "pm_2", 2)
    assert notification_of(second) != {**notification_of(first), "version": 2}
    assert apply(second, second_seen, NOW) is None


def test_a_failure_with_other_facts_on_the_same_payment_method_is_another_failure():
    first = apply(payment(), observe_payment_intent(declined("pm_1", code="expired_card")), NOW)
    again = apply(first, observe_payment_intent(declined("pm_1", code="card_declined")), NOW)
    assert (again.failure_code, again.version) == ("card_declined", 2)


def test_the_failed_attempt_still_authenticating_seen_late_keeps_the_failure():
    failed = apply(payment(), observe_payment_intent(declined("pm_3ds")), NOW)
    late = intent("requires_action", payment_method="pm_3ds")
    assert apply(failed, observe_payment_intent(late), NOW) is None


def test_a_failure_recorded_without_its_payment_method_needs_a_charge_or_money_to_move_on():
    failed = payment(status=S.FAILED, charge_id="ch_1", failure_code="card_declined")
    shown = bank_transfer(5000, 0, payment_method="pm_transfer", latest_charge="ch_1")
    assert apply(failed, observe_payment_intent(shown), NOW) is None
    part = bank_transfer(4000, 1000, payment_method="pm_transfer", latest_charge="ch_1")
    assert apply(failed, observe_payment_intent(part), NOW).status is S.PARTIALLY_FUNDED


def test_after_a_debit_whose_failure_went_unseen_the_next_attempt_moves_on():
    processing = payment(status=S.PROCESSING, charge_id="ch_1", payment_method_id="pm_debit")
    shown = bank_transfer(5000, 0, payment_method="pm_transfer", latest_charge="ch_1")
    assert apply(processing, observe_payment_intent(shown), NOW).status is S.PENDING
    part = bank_transfer(4000, 1000, payment_method="pm_transfer", latest_charge="ch_1")
    assert apply(processing, observe_payment_intent(part), NOW).status is S.PARTIALLY_FUNDED
    debit_again = intent("processing", payment_method="pm_debit_2", latest_charge="ch_2")
    assert apply(processing, observe_payment_intent(debit_again), NOW).charge_id == "ch_2"
    before_the_debit = intent("requires_action", payment_method="pm_3ds")
    assert apply(processing, observe_payment_intent(before_the_debit), NOW) is None


def test_processing_never_goes_back_to_pending():
    processing = payment(status=S.PROCESSING, charge_id="ch_1")
    assert apply(processing, observe_payment_intent(intent("requires_payment_method")), NOW) is None


def bank_transfer(remaining, received, **fields):
    return intent(
        "requires_action",
        amount_received=received,
        **fields,
        next_action={
            "type": "display_bank_transfer_instructions",
            "display_bank_transfer_instructions": {"amount_remaining": remaining},
        },
    )


def test_partial_fundings_track_what_is_received_and_what_remains():
    first = apply(payment(), observe_payment_intent(bank_transfer(3000, 2000)), NOW)
    assert (first.status, first.amount_received, first.amount_remaining) == (
        S.PARTIALLY_FUNDED,
        2000,
        3000,
    )
    second = apply(first, observe_payment_intent(bank_transfer(1000, 4000)), NOW)
    assert (second.amount_received, second.amount_remaining, second.version) == (4000, 1000, 2)


def test_an_older_partial_funding_seen_late_is_ignored():
    ahead = payment(status=S.PARTIALLY_FUNDED, amount_received=4000, amount_remaining=1000)
    assert apply(ahead, observe_payment_intent(bank_transfer(3000, 2000)), NOW) is None


@pytest.mark.parametrize(
    "moves",
    [
        pytest.param(lambda remaining, received: (remaining, received), id="both"),
        pytest.param(lambda remaining, received: (remaining, 0), id="amount_remaining"),
        pytest.param(lambda remaining, received: (5000, received), id="amount_received"),
    ],
)
def test_partial_fundings_count_whichever_total_stripe_moves(moves):
    first = apply(payment(), observe_payment_intent(bank_transfer(*moves(3000, 2000))), NOW)
    assert (first.status, first.amount_remaining) == (S.PARTIALLY_FUNDED, 3000)
    second = apply(first, observe_payment_intent(bank_transfer(*moves(1000, 4000))), NOW)
    assert (second.status, second.amount_remaining, second.version) == (
        S.PARTIALLY_FUNDED,
        1000,
        2,
    )
    assert apply(second, observe_payment_intent(bank_transfer(*moves(1000, 4000))), NOW) is None
    assert apply(second, observe_payment_intent(bank_transfer(*moves(3000, 2000))), NOW) is None


def test_a_partial_funding_whose_totals_disagree_on_the_direction_is_ignored():
    ahead = payment(status=S.PARTIALLY_FUNDED, amount_received=2000, amount_remaining=3000)
    assert apply(ahead, observe_payment_intent(bank_transfer(2000, 1000)), NOW) is None


def test_bank_transfer_instructions_before_any_funds_are_still_pending():
    assert observe_payment_intent(bank_transfer(5000, 0)).status is S.PENDING


def test_a_currency_other_than_the_payments_is_refused():
    with pytest.raises(CurrencyMismatch):
        apply(payment(), Observation(S.SUCCEEDED, currency="usd", amount_received=5000), NOW)


def test_requires_action_without_funds_is_pending():
    assert observe_payment_intent(intent("requires_action")).status is S.PENDING


def test_success_with_less_than_the_amount_leaves_the_payment_open_with_the_shortfall():
    seen = observe_payment_intent(intent("succeeded", amount_received=50, latest_charge="ch_1"))
    short = apply(payment(), seen, NOW)
    assert (short.status, short.amount_received, short.amount_remaining) == (
        S.PARTIALLY_FUNDED,
        50,
        4950,
    )
    assert notification_of(short)["amount_remaining"] == 4950
    assert apply(short, seen, NOW) is None


def charge(charge_id, status="succeeded"):
    return {"id": charge_id, "status": status, "amount": 5000, "currency": "eur"}


def test_a_second_succeeded_charge_of_a_paid_payment_is_recorded_once_never_undone():
    done = payment(status=S.SUCCEEDED, amount_received=5000, charge_id="ch_1", version=2)
    second = observe_charge(charge("ch_2"))
    twice = apply(done, second, NOW)
    assert (twice.status, twice.charge_id, twice.version) == (S.SUCCEEDED, "ch_1", 3)
    assert twice.duplicate_charges == (DuplicateCharge("ch_2", 5000),)
    assert notification_of(twice)["duplicate_charges"] == [{"charge_id": "ch_2", "amount": 5000}]
    assert apply(twice, second, NOW) is None
    own = observe_charge(charge("ch_1"))
    assert apply(twice, own, NOW) is None
    failed = observe_charge(charge("ch_3", "failed"))
    assert apply(twice, failed, NOW) is None


def test_the_payment_intent_canceled_for_a_bound_source_does_not_cancel_the_payment():
    bound = payment(source_id="src_1", version=1)
    assert apply(bound, observe_payment_intent(intent("canceled")), NOW) is None
    assert apply(payment(), observe_payment_intent(intent("canceled")), NOW).status is S.CANCELED


@pytest.mark.parametrize(
    "unreadable", [{"id": "ch_1", "status": "weird"}, {"status": "succeeded"}, {"id": "ch_1"}]
)
def test_a_stripe_object_that_cannot_be_read_is_malformed_not_a_crash(unreadable):
    with pytest.raises(MalformedObject):
        observe_charge(unreadable)
    with pytest.raises(MalformedObject):
        observe_payment_intent({"id": "pi_1", "status": "succeeded"})
