"""Following the platform's queue carries on when the queue is out of reach for a moment."""

import json

from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from ops import notifications
from ops.notifications import received


class FlakyQueue:
    """An SQS client whose polls fail as listed (None: answers the next batch)."""

    def __init__(self, outcomes, batches):
        self.outcomes = list(outcomes)
        self.batches = list(batches)
        self.deleted = []

    def receive_message(self, **_):
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return {"Messages": self.batches.pop(0)} if self.batches else {}

    def delete_message(self, QueueUrl, ReceiptHandle):  # noqa: N803 (boto3's names)
        self.deleted.append(ReceiptHandle)


def message(n):
    return {"Body": json.dumps({"detail": {"n": n}}), "ReceiptHandle": f"r{n}"}


def test_a_poll_that_times_out_or_cannot_connect_is_retried_and_nothing_is_lost(monkeypatch):
    monkeypatch.setattr(notifications, "_PAUSE_SECONDS", 0)
    failures = [
        ReadTimeoutError(endpoint_url="http://sqs"),
        EndpointConnectionError(endpoint_url="http://sqs"),
    ]
    queue = FlakyQueue([*failures, None, failures[0]], [[message(1), message(2)], [message(3)]])
    shown = []
    for event in received(queue, "http://sqs/q", consume=True, wait_seconds=0):
        shown.append(event["detail"]["n"])
        if len(shown) == 3:
            break
    assert shown == [1, 2, 3]
    assert queue.deleted == ["r1", "r2"]  # the third is deleted once the next one is asked for


def test_it_stops_when_asked_even_while_the_queue_is_out_of_reach(monkeypatch):
    monkeypatch.setattr(notifications, "_PAUSE_SECONDS", 0)
    polls = []

    def stopping():
        polls.append(1)
        return len(polls) > 3

    queue = FlakyQueue([ReadTimeoutError(endpoint_url="http://sqs")] * 10, [])
    assert list(received(queue, "http://sqs/q", consume=False, stopping=stopping)) == []
    assert len(queue.outcomes) == 7
