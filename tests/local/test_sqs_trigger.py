"""The local SQS trigger hands batches over and deletes or keeps them as Lambda would."""

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SqsModel
from botocore.exceptions import ClientError

from chalicelib.consumer import run_batch
from chalicelib.sqs_batches import answer
from local.aws import deploy_stack
from local.sqs_trigger import SqsTrigger

# moto's CloudFormation cannot create CloudWatch alarms; they would never fire there anyway.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

SERVICE = "triggertest"
MAX_RECEIVE_COUNT = 2
DEADLINE_SECONDS = 15


@pytest.fixture(scope="module")
def outputs(local_aws, template_path) -> dict[str, str]:
    # Short timeouts keep retries fast; the 6x rule of the template holds for its defaults.
    return deploy_stack(
        local_aws,
        template_path,
        SERVICE,
        {
            "ServiceName": SERVICE,
            "VisibilityTimeoutSeconds": 1,
            "ConsumerTimeoutSeconds": 1,
            "MaxReceiveCount": MAX_RECEIVE_COUNT,
        },
    )


@pytest.fixture
def sqs(local_aws, outputs):
    client = local_aws.client("sqs")
    # SQS allows one purge a minute per queue, so empty the queues by hand between tests.
    for url in (outputs["EventsQueueUrl"], outputs["EventsDeadLetterQueueUrl"]):
        drain(client, url)
    return client


def drain(sqs, queue_url: str) -> None:
    def delete_visible() -> None:
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    wait_until(lambda: messages_left(sqs, queue_url) == 0, delete_visible)


@pytest.fixture
def make_trigger(sqs, outputs) -> Iterator[Callable[..., SqsTrigger]]:
    triggers: list[SqsTrigger] = []

    def make(handler, **options) -> SqsTrigger:
        trigger = SqsTrigger(sqs, outputs["EventsQueueUrl"], handler, **options)
        triggers.append(trigger)
        return trigger

    yield make
    for trigger in triggers:
        trigger.stop(timeout=10)


def send(sqs, outputs, *bodies: str) -> list[str]:
    return [
        sqs.send_message(QueueUrl=outputs["EventsQueueUrl"], MessageBody=body)["MessageId"]
        for body in bodies
    ]


def wait_until(condition: Callable[[], bool], step: Callable[[], object] | None = None) -> None:
    """Run step (or a short pause) until condition holds or the deadline passes."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        if step is not None:
            step()
        else:
            time.sleep(0.02)


def messages_left(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


class Recorder:
    """A handler that records what it gets and answers as told."""

    def __init__(self, answer: Callable[[dict], object] = lambda event: None):
        self.answer = answer
        self.events: list[dict] = []
        self.contexts: list[object] = []
        self.lock = threading.Lock()

    def __call__(self, event, context):
        with self.lock:
            self.events.append(event)
            self.contexts.append(context)
        return self.answer(event)

    @property
    def records(self) -> list[dict]:
        with self.lock:
            return [record for event in self.events for record in event["Records"]]

    def bodies(self) -> list[str]:
        return [record["body"] for record in self.records]


def first_delivery(record: dict) -> bool:
    return record["attributes"]["ApproximateReceiveCount"] == "1"


def only_on_first_delivery(answer: Callable[[dict], object]) -> Callable[[dict], object]:
    """Answer as given to a first delivery, succeed on a retry: the queue ends up empty."""
    return lambda event: answer(event) if first_delivery(event["Records"][0]) else None


def test_batch_arrives_in_lambda_shape_and_is_deleted_on_success(sqs, outputs, make_trigger):
    sqs.send_message(
        QueueUrl=outputs["EventsQueueUrl"],
        MessageBody='{"id": "evt_1"}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "payment_intent.succeeded"},
            "attempt": {"DataType": "Number", "StringValue": "1"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    send(sqs, outputs, "second", "third")
    handler = Recorder()
    trigger = make_trigger(handler, function_name="consume_events", timeout_seconds=30)

    wait_until(lambda: len(handler.records) == 3, trigger.run_once)

    parse(event=handler.events[0], model=SqsModel)  # Powertools' model of Lambda's SQS event
    first = next(record for record in handler.records if record["body"] == '{"id": "evt_1"}')
    assert set(first) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == outputs["EventsQueueArn"]
    assert first["awsRegion"] == "us-east-1"
    assert first["md5OfBody"] == hashlib.md5(first["body"].encode()).hexdigest()
    assert set(first["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert first["messageAttributes"] == {
        "kind": {
            "stringValue": "payment_intent.succeeded",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "attempt": {
            "stringValue": "1",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "raw": {
            "binaryValue": "AP8=",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }

    context = handler.contexts[0]
    account_id = outputs["EventsQueueArn"].split(":")[4]
    assert context.function_name == "consume_events"
    assert context.invoked_function_arn == (
        f"arn:aws:lambda:us-east-1:{account_id}:function:consume_events"
    )
    assert context.log_group_name == "/aws/lambda/consume_events"
    assert "[$LATEST]" in context.log_stream_name
    assert context.memory_limit_in_mb == "128"
    assert 0 < context.get_remaining_time_in_millis() <= 30_000
    assert len({c.aws_request_id for c in handler.contexts}) == len(handler.contexts)

    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0


def test_run_once_on_an_empty_queue_hands_nothing_over(sqs, make_trigger):
    handler = Recorder()
    assert make_trigger(handler, wait_time_seconds=0).run_once() == 0
    assert handler.events == []


def test_failing_batch_returns_and_lands_in_the_dlq_after_max_receive_count(
    sqs, outputs, make_trigger, caplog
):
    def fail(event):
        raise RuntimeError("downstream unavailable")

    handler = Recorder(fail)
    trigger = make_trigger(handler)
    [message_id] = send(sqs, outputs, "poison")
    dlq_messages: list[dict] = []

    def dead_letters_arrived() -> bool:
        dlq_messages.extend(
            sqs.receive_message(
                QueueUrl=outputs["EventsDeadLetterQueueUrl"], AttributeNames=["All"]
            ).get("Messages", [])
        )
        return bool(dlq_messages)

    with caplog.at_level(logging.ERROR, logger="local.sqs_trigger"):
        wait_until(dead_letters_arrived, trigger.run_once)
    sqs.delete_message(
        QueueUrl=outputs["EventsDeadLetterQueueUrl"], ReceiptHandle=dlq_messages[0]["ReceiptHandle"]
    )

    receive_counts = [record["attributes"]["ApproximateReceiveCount"] for record in handler.records]
    assert receive_counts == [str(n) for n in range(1, MAX_RECEIVE_COUNT + 1)]
    assert [m["MessageId"] for m in dlq_messages] == [message_id]
    assert dlq_messages[0]["Body"] == "poison"
    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0
    failures = [r for r in caplog.records if "nothing deleted" in r.getMessage()]
    assert len(failures) == MAX_RECEIVE_COUNT
    assert all("poison" not in r.getMessage() for r in caplog.records)


def test_partial_batch_response_deletes_only_the_successes(sqs, outputs, make_trigger):
    def fail_some(event):
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]}
                for record in event["Records"]
                if record["body"].startswith("fail") and first_delivery(record)
            ]
        }

    handler = Recorder(fail_some)
    trigger = make_trigger(handler)
    send(sqs, outputs, "ok-1", "fail-1", "ok-2", "fail-2")

    # The failures come back once the visibility timeout has passed; the successes never do.
    wait_until(lambda: handler.bodies().count("fail-1") == 2, trigger.run_once)
    wait_until(lambda: handler.bodies().count("fail-2") == 2, trigger.run_once)
    wait_until(lambda: messages_left(sqs, outputs["EventsQueueUrl"]) == 0)
    bodies = handler.bodies()
    assert bodies.count("ok-1") == 1
    assert bodies.count("ok-2") == 1


def test_an_unknown_item_identifier_fails_the_whole_batch(sqs, outputs, make_trigger):
    handler = Recorder(
        only_on_first_delivery(
            lambda event: {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}
        )
    )
    trigger = make_trigger(handler)
    send(sqs, outputs, "kept")

    wait_until(lambda: handler.bodies().count("kept") == 2, trigger.run_once)
    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0


def test_without_batch_item_failures_reporting_the_whole_batch_is_deleted(
    sqs, outputs, make_trigger
):
    def fail_all(event):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    handler = Recorder(fail_all)
    trigger = make_trigger(handler, report_batch_item_failures=False)
    send(sqs, outputs, "gone")

    wait_until(lambda: handler.bodies() == ["gone"], trigger.run_once)
    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0


def test_a_result_lambda_cannot_serialise_fails_the_batch(sqs, outputs, make_trigger):
    handler = Recorder(only_on_first_delivery(lambda event: {"unserialisable": object()}))
    trigger = make_trigger(handler)
    send(sqs, outputs, "again")

    wait_until(lambda: handler.bodies().count("again") == 2, trigger.run_once)
    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0


def test_a_batch_beyond_the_timeout_is_not_deleted(sqs, outputs, make_trigger):
    handler = Recorder(only_on_first_delivery(lambda event: time.sleep(0.3)))
    trigger = make_trigger(handler, timeout_seconds=0.2)
    send(sqs, outputs, "slow")

    wait_until(lambda: handler.bodies().count("slow") == 2, trigger.run_once)
    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0


def test_batching_window_gathers_more_than_one_receive(sqs, outputs, make_trigger):
    handler = Recorder()
    trigger = make_trigger(handler, batch_size=15, max_batching_window_seconds=1)
    send(sqs, outputs, *[f"m{n}" for n in range(15)])

    assert trigger.run_once() == 15
    assert len(handler.events) == 1
    assert sorted(handler.bodies()) == sorted(f"m{n}" for n in range(15))
    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0


def test_batch_settings_follow_lambda_limits(sqs, outputs):
    with pytest.raises(ValueError):
        SqsTrigger(sqs, outputs["EventsQueueUrl"], Recorder(), batch_size=11)
    with pytest.raises(ValueError):
        SqsTrigger(sqs, outputs["EventsQueueUrl"], Recorder(), batch_size=0)


def test_polling_thread_survives_handler_errors(sqs, outputs, make_trigger, caplog):
    calls = []

    def fail_first(event, context):
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("first call fails")

    trigger = make_trigger(fail_first)
    send(sqs, outputs, "retried")
    with caplog.at_level(logging.ERROR, logger="local.sqs_trigger"):
        trigger.start()
        wait_until(lambda: len(calls) >= 2 and messages_left(sqs, outputs["EventsQueueUrl"]) == 0)
    assert trigger.running
    assert any("first call fails" in (r.exc_text or "") for r in caplog.records)


class FlakySqs:
    """An SQS client whose first receive fails, as a network blip would."""

    def __init__(self, client):
        self.client = client
        self.failures_left = 1

    def receive_message(self, **kwargs):
        if self.failures_left:
            self.failures_left -= 1
            raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "ReceiveMessage")
        return self.client.receive_message(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_polling_thread_survives_sqs_errors(sqs, outputs):
    handler = Recorder()
    trigger = SqsTrigger(FlakySqs(sqs), outputs["EventsQueueUrl"], handler)
    send(sqs, outputs, "after-blip")
    trigger.start()
    try:
        wait_until(lambda: handler.bodies() == ["after-blip"])
        assert trigger.running
    finally:
        trigger.stop(timeout=10)


def test_stop_waits_for_the_batch_in_hand_then_joins(sqs, outputs, make_trigger):
    entered = threading.Event()
    finished = threading.Event()

    def slow(event, context):
        entered.set()
        time.sleep(0.3)
        finished.set()

    trigger = make_trigger(slow)
    send(sqs, outputs, "in-hand")
    trigger.start()
    assert entered.wait(DEADLINE_SECONDS)

    trigger.stop()

    assert finished.is_set()
    assert not trigger.running
    assert messages_left(sqs, outputs["EventsQueueUrl"]) == 0


def test_stop_on_an_idle_trigger_returns_within_one_poll(make_trigger):
    trigger = make_trigger(Recorder(), wait_time_seconds=1)
    trigger.start()
    wait_until(lambda: trigger.running)
    started = time.monotonic()
    trigger.stop()
    assert not trigger.running
    assert time.monotonic() - started < 5


def test_event_is_plain_json(sqs, outputs, make_trigger):
    handler = Recorder()
    send(sqs, outputs, "json")
    wait_until(lambda: handler.events, make_trigger(handler).run_once)
    assert json.loads(json.dumps(handler.events[0])) == handler.events[0]


@pytest.mark.parametrize("reports", [False, True], ids=["chalice-deploy", "merge-template"])
def test_the_consumers_answer_retries_only_the_failed_message_under_either_mapping(
    sqs, outputs, make_trigger, reports, caplog
):
    caplog.set_level(logging.INFO, logger="local.sqs_trigger")
    # The consumer's own batch rules (delete each handled message, BatchIncomplete for the
    # rest), answered to Lambda as the mapping reads them: a raise, or batchItemFailures.
    url = outputs["EventsQueueUrl"]

    def handle(record):
        if record["body"].startswith("fail") and first_delivery(record):
            raise RuntimeError("fails once")
        return "applied"

    def consume(event):
        return answer(
            lambda: run_batch(
                event["Records"],
                handle,
                lambda receipt: sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt),
            ),
            reports,
        )

    handler = Recorder(consume)
    trigger = make_trigger(handler, report_batch_item_failures=reports)
    send(sqs, outputs, "ok-1", "fail-1", "ok-2")

    wait_until(lambda: handler.bodies().count("fail-1") == 2, trigger.run_once)
    wait_until(lambda: messages_left(sqs, url) == 0)
    bodies = handler.bodies()
    assert (bodies.count("ok-1"), bodies.count("ok-2")) == (1, 1)
    # Reported, the invocation succeeds; raised, Lambda counts a failed one.
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert ("partly failed" in logged, "nothing deleted" in logged) == (reports, not reports)
