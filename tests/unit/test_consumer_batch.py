"""One failing message in a batch neither loses nor re-applies the others."""

import pytest

from chalicelib import consumer
from chalicelib.consumer import BatchIncomplete, run_batch
from chalicelib.domain.errors import StripeUnavailable
from chalicelib.domain.failures import failure_reason


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


def test_every_handled_message_is_deleted_and_the_failures_are_raised():
    deleted = []

    def handle(record):
        if record["body"] == "b":
            raise RuntimeError("poison")
        return "applied"

    with pytest.raises(BatchIncomplete) as raised:
        run_batch(records("a", "b", "c"), handle, deleted.append)
    assert raised.value.failed_ids == ["b"]
    assert deleted == ["rh-a", "rh-c"]


def test_a_clean_batch_returns_outcomes_and_deletes_everything():
    deleted = []
    assert run_batch(records("a", "b"), lambda r: "applied", deleted.append) == ["applied"] * 2
    assert deleted == ["rh-a", "rh-b"]


def test_a_failed_delete_does_not_fail_the_batch():
    def delete(handle):
        raise RuntimeError("sqs down")

    assert run_batch(records("a"), lambda r: "applied", delete) == ["applied"]


def test_once_stripe_is_found_down_the_rest_of_the_batch_goes_back_untried():
    tried, deleted = [], []

    def handle(record):
        tried.append(record["body"])
        if record["body"] == "b":
            raise StripeUnavailable("Stripe unreachable")
        return "applied"

    with pytest.raises(BatchIncomplete) as raised:
        run_batch(records("a", "b", "c", "d"), handle, deleted.append)
    assert tried == ["a", "b"]
    assert raised.value.failed_ids == ["b", "c", "d"]
    assert deleted == ["rh-a"]


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


def test_without_reporting_a_failed_batch_raises_and_a_clean_one_answers_nothing():
    from chalicelib.sqs_batches import answer

    def incomplete():
        raise BatchIncomplete(["m-2"])

    with pytest.raises(BatchIncomplete):
        answer(incomplete, reports_item_failures=False)
    assert answer(lambda: ["applied"], reports_item_failures=False) is None


def test_with_reporting_the_failed_messages_are_returned_and_other_errors_still_raise():
    from chalicelib.sqs_batches import answer

    def incomplete():
        raise BatchIncomplete(["m-2", "m-3"])

    assert answer(incomplete, reports_item_failures=True) == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]
    }
    assert answer(lambda: ["applied"], reports_item_failures=True) == {"batchItemFailures": []}

    def broken():
        raise KeyError("Records")  # not a batch at all: the whole invocation fails

    with pytest.raises(KeyError):
        answer(broken, reports_item_failures=True)
