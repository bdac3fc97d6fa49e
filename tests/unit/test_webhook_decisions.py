"""Which verified events are queued and which are acknowledged and dropped."""

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES, Verdict, decide, envelope_of


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
