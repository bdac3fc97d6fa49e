"""Which verified events are queued and which are acknowledged and dropped."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput, WebhookRejected
from chalicelib.domain.webhooks import (
    HANDLED_EVENT_TYPES,
    REJECTION_METRICS,
    SIGNATURE_TOLERANCE_SECONDS,
    Verdict,
    check_not_ahead,
    decide,
    envelope_of,
    for_endpoint,
)


def event(**changes):
    return {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "account": "acct_1",
        "livemode": False,
        **changes,
    }


@pytest.mark.parametrize("event_type", HANDLED_EVENT_TYPES)
def test_handled_types_are_queued(event_type):
    assert decide(envelope_of(event(type=event_type)), stage_livemode=False) is Verdict.QUEUE


def test_other_types_are_acknowledged_not_queued():
    assert decide(envelope_of(event(type="invoice.paid")), False) is Verdict.IGNORED_TYPE


def test_events_of_the_other_mode_are_acknowledged_not_queued():
    assert decide(envelope_of(event(livemode=False)), stage_livemode=True) is Verdict.IGNORED_MODE
    assert decide(envelope_of(event(livemode=True)), stage_livemode=False) is Verdict.IGNORED_MODE


@pytest.mark.parametrize(
    "changes", [{"id": "pi_1"}, {"id": None}, {"type": ""}, {"livemode": "false"}, {"account": 3}]
)
def test_malformed_envelopes_are_refused(changes):
    with pytest.raises(InvalidInput):
        envelope_of(event(**changes))


# --- which endpoint may take which event ----------------------------------------------------


def test_the_platform_endpoint_refuses_an_event_that_names_no_account():
    with pytest.raises(WebhookRejected) as refused:
        for_endpoint(envelope_of(event(account=None)), dedicated_account=None)
    assert refused.value.reason == "missing_account"
    assert REJECTION_METRICS["missing_account"] == "WebhookRejectedAccount"


def test_a_dedicated_url_takes_its_own_account_or_none_and_refuses_another():
    for account in (None, "acct_1"):
        routed = for_endpoint(envelope_of(event(account=account)), dedicated_account="acct_1")
        assert routed.account == "acct_1"
    with pytest.raises(WebhookRejected) as refused:
        for_endpoint(envelope_of(event(account="acct_2")), dedicated_account="acct_1")
    assert refused.value.reason == "account_mismatch"


# --- signatures dated ahead -----------------------------------------------------------------

NOW = 1_800_000_000


@given(ahead=st.integers(min_value=SIGNATURE_TOLERANCE_SECONDS + 1, max_value=10**12))
def test_a_timestamp_ahead_of_the_tolerance_is_refused(ahead):
    with pytest.raises(WebhookRejected) as refused:
        check_not_ahead(f"t={NOW + ahead},v1=abc", NOW)
    assert refused.value.reason == "bad_signature"


@given(
    offset=st.integers(min_value=-(10**6), max_value=SIGNATURE_TOLERANCE_SECONDS),
    extra=st.lists(st.sampled_from(["v1=00", "v0=ff", "x", "t=", "t=abc", "=", ""]), max_size=3),
)
def test_a_timestamp_within_the_tolerance_or_no_timestamp_passes(offset, extra):
    check_not_ahead(",".join([f"t={NOW + offset}", *extra]), NOW)


@given(position=st.integers(min_value=0, max_value=3))
def test_any_timestamp_ahead_is_refused_whichever_a_verifier_reads(position):
    parts = [f"t={NOW}", "v1=00", "v1=11"]
    parts.insert(position, f"t={NOW + 10**6}")
    with pytest.raises(WebhookRejected):
        check_not_ahead(",".join(parts), NOW)
