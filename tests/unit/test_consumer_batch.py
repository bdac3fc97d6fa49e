"""One failing message in a batch neither loses nor re-applies the others."""

import pytest

from chalicelib.consumer import BatchIncomplete, run_batch


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
