"""Why an event failed, as the consumer records it: one short line, never a secret."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import consumer
from chalicelib.consumer import BatchIncomplete, run_batch
from chalicelib.domain.errors import StripeUnavailable
from chalicelib.domain.failures import MAX_REASON_LENGTH, failure_reason

secrets = st.one_of(
    st.from_regex(r"(sk|rk|pk)_(test|live)_[A-Za-z0-9]{8,40}", fullmatch=True),
    st.from_regex(r"whsec_[A-Za-z0-9]{8,40}", fullmatch=True),
    st.from_regex(r"pi_[A-Za-z0-9]{10}_secret_[A-Za-z0-9]{8,30}", fullmatch=True),
    st.from_regex(r"[Bb]earer [A-Za-z0-9._-]{8,40}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9]{40,80}", fullmatch=True),
)
words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@given(before=words, secret=secrets, after=words)
def test_a_secret_anywhere_in_the_message_never_reaches_the_reason(before, secret, after):
    reason = failure_reason(RuntimeError(f"{before} {secret} {after}"))
    assert secret.split()[-1] not in reason
    assert reason.startswith("RuntimeError")
    assert len(reason) <= MAX_REASON_LENGTH and "\n" not in reason


def test_a_plain_message_is_kept_on_one_line():
    error = StripeUnavailable("Stripe unreachable:\n  connection refused")
    assert failure_reason(error) == "StripeUnavailable: Stripe unreachable: connection refused"
    assert failure_reason(KeyError()) == "KeyError"


def records(*ids):
    return [
        {
            "messageId": i,
            "receiptHandle": f"rh-{i}",
            "body": i,
            "messageAttributes": {"event_id": {"stringValue": f"evt_{i}"}},
        }
        for i in ids
    ]


def test_every_failed_and_every_untried_message_is_recorded_with_its_reason():
    recorded = []

    def handle(record):
        if record["body"] == "b":
            raise RuntimeError("poison")
        if record["body"] == "c":
            raise StripeUnavailable("Stripe unreachable")
        return "applied"

    with pytest.raises(BatchIncomplete):
        run_batch(
            records("a", "b", "c", "d"),
            handle,
            lambda receipt: None,
            lambda record, error: recorded.append((record["body"], failure_reason(error))),
        )
    assert recorded == [
        ("b", "RuntimeError: poison"),
        ("c", "StripeUnavailable: Stripe unreachable"),
        ("d", "StripeUnavailable: not tried: Stripe unavailable in its batch"),
    ]


def test_a_failure_that_cannot_be_recorded_does_not_change_the_batch(monkeypatch):
    class TableDown:
        def record(self, *args):
            raise RuntimeError("DynamoDB unavailable")

    monkeypatch.setattr(consumer.wiring, "event_failures", TableDown)
    [record] = records("a")
    consumer._record_failure(record, RuntimeError("poison"))  # logged, not raised
