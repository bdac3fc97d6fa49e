"""`ops dlq list` and `ops dlq replay` against moto, with the real consumer in this process.

The consumer runs as the consumer Lambda would (the stage's environment, the real queue, the
Lambda's delete-or-retry rules of local.sqs_trigger); the CLI runs as a subprocess.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from typing import Any

import pytest

from chalicelib import consumer, wiring
from chalicelib.adapters.messaging import SqsEventQueue
from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.payment_requests import StartPayment
from chalicelib.domain.payments import InvoiceLine, PaymentStatus
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES, envelope_of
from local.sqs_trigger import SqsTrigger
from tests.ops.conftest import MAX_RECEIVE_COUNT, STRIPE_KEY

NOW = "2026-12-03T12:00:00.000+00:00"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


class Consumer:
    """The consumer Lambda of the test's stage, and the platform's inbox of notifications."""

    def __init__(self, world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.world, self.monkeypatch = world, monkeypatch
        for name, value in {
            **world.aws.env(),
            "SERVICE_NAME": world.service,
            "STAGE": "test",
            "LIVEMODE": "false",
            "STRIPE_API_BASE": world.standin.url,
            "STRIPE_TIMEOUT_SECONDS": "2",
            "STRIPE_MAX_RETRIES": "0",
            "EVENTS_QUEUE_URL": world.outputs["EventsQueueUrl"],
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SECRETS_PATH", raising=False)
        self.fresh_container()
        sqs, events = world.sqs, world.aws.client("events")
        self.inbox = sqs.create_queue(QueueName=f"{world.service}-inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])
        bus = world.outputs["NotificationsBusName"]
        events.put_rule(
            Name="to-inbox",
            EventBusName=bus,
            EventPattern=json.dumps({"source": ["stripe-bridge"]}),
        )
        events.put_targets(
            Rule="to-inbox",
            EventBusName=bus,
            Targets=[{"Id": "inbox", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        self._told: list[dict[str, Any]] = []

    def fresh_container(self) -> None:
        wiring.reset()
        consumer.reset()

    def stripe_at(self, url: str) -> None:
        """Where the next container's Stripe client goes (a wrong base is a broken Stripe)."""
        self.monkeypatch.setenv("STRIPE_API_BASE", url)
        self.fresh_container()

    def consume(self) -> int:
        trigger = SqsTrigger(
            self.world.sqs,
            self.world.outputs["EventsQueueUrl"],
            consumer.consume,
            wait_time_seconds=0,
            report_batch_item_failures=False,
        )
        return trigger.run_once()

    def told(self, payment_id: str) -> list[tuple[str, int]]:
        sqs = self.world.sqs
        while messages := sqs.receive_message(
            QueueUrl=self.inbox, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            for message in messages:
                self._told.append(json.loads(message["Body"])["detail"])
                sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
        return [(n["status"], n["version"]) for n in self._told if n["payment_id"] == payment_id]


@pytest.fixture
def lambda_(world, monkeypatch):
    yield Consumer(world, monkeypatch)
    wiring.reset()
    consumer.reset()


def control(world, path: str, body: dict | None = None) -> Any:
    request = urllib.request.Request(
        f"{world.standin.url}/_standin{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def paid_card_payment(world):
    """A company's customer paid by card; what Stripe recorded, the webhook not yet handled."""
    account = f"acct_1O{uuid.uuid4().hex[:14]}"
    control(world, "/accounts", {"id": account})
    wiring.account_store().put(ConnectedAccount(account, f"co_{account}", False, NOW))
    payment = wiring.payments_service().start(
        StartPayment(f"co_{account}", 1500, "usd", (InvoiceLine("INV-1", 1500),))
    ).payment
    control(world, f"/payment_intents/{payment.payment_intent_id}/pay", {"method": "card"})
    recorded = control(world, f"/events?account={account}")["data"]
    events = [r["event"] for r in recorded if r["event"]["type"] in HANDLED_EVENT_TYPES]
    assert events
    return payment, events


def queue(world, *events):
    """What the webhook does with each verified event."""
    events_queue = SqsEventQueue(world.sqs, world.outputs["EventsQueueUrl"])
    for event in events:
        events_queue.send(envelope_of(event), json.dumps(event))


def park(world, event_id: str, body: str = "{}", **attributes: str) -> None:
    """A message in the dead-letter queue, as SQS leaves one there."""
    values = {"event_id": event_id, "event_type": "payment_intent.succeeded", **attributes}
    world.sqs.send_message(
        QueueUrl=world.outputs["EventsDeadLetterQueueUrl"],
        MessageBody=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in values.items()
        },
    )


def event_ids(messages):
    return sorted(m["MessageAttributes"]["event_id"]["StringValue"] for m in messages)


def test_events_failed_by_a_broken_stripe_are_listed_replayed_after_the_fix_and_applied_once(
    world, lambda_
):
    payment, events = paid_card_payment(world)
    lambda_.stripe_at(UNREACHABLE)
    queue(world, *events)
    for _ in range(MAX_RECEIVE_COUNT + 1):
        lambda_.consume()
        time.sleep(1.1)  # the queue's visibility timeout
    assert event_ids(world.messages("EventsDeadLetterQueueUrl")) == sorted(e["id"] for e in events)
    assert wiring.payment_store().get(payment.payment_id) == payment  # untouched

    rows = world.ops_json("dlq", "list")
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)
    for row in rows:
        assert row["account"] == payment.account_id
        assert row["event_type"] in HANDLED_EVENT_TYPES
        assert row["first_failure"].startswith("StripeUnavailable: ")
        assert row["failures"] == MAX_RECEIVE_COUNT
        assert 0 <= row["age_seconds"] < 60
    readable = world.ops("dlq", "list")
    assert readable.returncode == 0, readable.stderr
    assert all(e["id"] in readable.stdout for e in events)
    assert "StripeUnavailable" in readable.stdout
    assert readable.stdout.splitlines()[-1].endswith(
        f"{len(events)} message(s) in {world.service}-events-dlq"
    )

    lambda_.stripe_at(world.standin.url)  # the fix
    replayed = world.ops("dlq", "replay", "--all")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines()[-1] == (
        f"replayed {len(events)} message(s) to {world.service}-events; "
        f"0 left in {world.service}-events-dlq"
    )
    assert world.messages("EventsDeadLetterQueueUrl") == []
    while lambda_.consume():
        pass
    done = wiring.payment_store().get(payment.payment_id)
    assert (done.status, done.amount_received) == (PaymentStatus.SUCCEEDED, 1500)
    assert lambda_.told(payment.payment_id) == [("succeeded", 1)]

    # The same events parked again (a second copy, an operator replaying twice): no effect.
    for event in events:
        park(
            world,
            event["id"],
            json.dumps(event),
            event_type=event["type"],
            account=payment.account_id,
            livemode="false",
        )
    assert world.ops("dlq", "replay", "--all").returncode == 0
    while lambda_.consume():
        pass
    assert wiring.payment_store().get(payment.payment_id) == done
    assert lambda_.told(payment.payment_id) == [("succeeded", 1)]


def test_replay_by_event_id_moves_those_exactly_and_leaves_the_others_visible_at_once(world):
    body = json.dumps({"id": "evt_b", "type": "payment_intent.succeeded", "é": "ü"})
    park(world, "evt_a", account="acct_a")
    park(world, "evt_b", body, account="acct_b", livemode="false")
    park(world, "evt_c", account="acct_c")
    result = world.ops("dlq", "replay", "--event-id", "evt_b")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "replayed evt_b payment_intent.succeeded acct_b",
        f"replayed 1 message(s) to {world.service}-events; 2 left in {world.service}-events-dlq",
    ]
    [moved] = world.messages("EventsQueueUrl")
    assert moved["Body"] == body
    assert {k: v["StringValue"] for k, v in moved["MessageAttributes"].items()} == {
        "event_id": "evt_b",
        "event_type": "payment_intent.succeeded",
        "account": "acct_b",
        "livemode": "false",
    }
    # Visible now, not after the minute the command held them for.
    assert event_ids(world.messages("EventsDeadLetterQueueUrl")) == ["evt_a", "evt_c"]


def test_a_dry_run_says_what_would_move_and_moves_nothing(world):
    park(world, "evt_a")
    park(world, "evt_b")
    result = world.ops("dlq", "replay", "--all", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sorted(lines[:2]) == [
        "would replay evt_a payment_intent.succeeded -",
        "would replay evt_b payment_intent.succeeded -",
    ]
    assert lines[2].startswith("dry run: ") and lines[2].endswith("nothing moved")
    assert world.messages("EventsQueueUrl") == []
    assert event_ids(world.messages("EventsDeadLetterQueueUrl")) == ["evt_a", "evt_b"]


@pytest.mark.parametrize(
    "args, says",
    [
        ((), "--event-id ID (one or more) or --all"),
        (("--all", "--event-id", "evt_a"), "--event-id ID (one or more) or --all"),
        (("--event-id", "evt_a\n"), "is not a Stripe event id"),
        (("--event-id", "pi_123"), "is not a Stripe event id"),
    ],
)
def test_a_replay_without_a_clear_selection_is_refused_and_changes_nothing(world, args, says):
    park(world, "evt_a")
    result = world.ops("dlq", "replay", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and says in result.stderr
    assert world.messages("EventsQueueUrl") == []
    assert event_ids(world.messages("EventsDeadLetterQueueUrl")) == ["evt_a"]


def test_an_event_id_not_in_the_queue_is_named_and_the_others_stay(world):
    park(world, "evt_a")
    result = world.ops("dlq", "replay", "--event-id", "evt_a", "--event-id", "evt_missing")
    assert result.returncode == 1
    assert f"not in {world.service}-events-dlq: evt_missing" in result.stderr
    assert event_ids(world.messages("EventsQueueUrl")) == ["evt_a"]
    assert world.messages("EventsDeadLetterQueueUrl") == []


def test_a_message_the_events_queue_refuses_is_not_deleted_from_the_dead_letter_queue(world):
    world.sqs.set_queue_attributes(
        QueueUrl=world.outputs["EventsQueueUrl"], Attributes={"MaximumMessageSize": "1024"}
    )
    park(world, "evt_big", "x" * 2000)
    park(world, "evt_small")
    result = world.ops("dlq", "replay", "--all")
    assert result.returncode == 1
    assert "not replayed evt_big" in result.stderr
    assert event_ids(world.messages("EventsQueueUrl")) == ["evt_small"]
    [kept] = world.messages("EventsDeadLetterQueueUrl")
    assert (kept["MessageAttributes"]["event_id"]["StringValue"], kept["Body"]) == (
        "evt_big",
        "x" * 2000,
    )


def test_the_list_of_an_empty_queue_and_of_a_message_without_a_recorded_reason(world):
    empty = world.ops("dlq", "list")
    assert (empty.returncode, empty.stdout) == (0, f"0 message(s) in {world.service}-events-dlq\n")
    park(world, "evt_lost")
    [row] = world.ops_json("dlq", "list")
    assert (row["event_id"], row["first_failure"], row["failures"]) == ("evt_lost", None, None)
    assert "(not recorded)" in world.ops("dlq", "list").stdout
    # Listing hides nothing afterwards.
    assert event_ids(world.messages("EventsDeadLetterQueueUrl")) == ["evt_lost"]


class LeakyRepairer:
    """A dependency whose error message carries the Stripe key (as a careless client's might)."""

    def handle(self, event, cause=None):
        raise RuntimeError(
            f"request with key {STRIPE_KEY} and Authorization: Bearer tok_0123 failed"
        )


def test_a_failure_reason_never_shows_a_secret(world, lambda_, monkeypatch):
    payment, events = paid_card_payment(world)
    monkeypatch.setattr(wiring, "repairer", LeakyRepairer)
    queue(world, events[0])
    for _ in range(MAX_RECEIVE_COUNT + 1):
        lambda_.consume()
        time.sleep(1.1)
    listed = world.ops("dlq", "list")
    as_json = world.ops("dlq", "list", "--json")
    stored = world.aws.client("dynamodb").scan(TableName=f"{world.service}-event-failures")
    for text in (listed.stdout + listed.stderr, as_json.stdout, json.dumps(stored)):
        assert STRIPE_KEY not in text and "tok_0123" not in text
    [row] = json.loads(as_json.stdout)
    assert row["first_failure"].startswith("RuntimeError: request with key [redacted]")
