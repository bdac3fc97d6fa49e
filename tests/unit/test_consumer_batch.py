"""One failing message in a batch neither loses nor re-applies the others."""

import pytest

from chalicelib.consumer import BatchIncomplete, run_batch
from chalicelib.domain.errors import StripeUnavailable


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
