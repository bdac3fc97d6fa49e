"""The queue consumer in-process, as Lambda runs it, against moto (AWS) and the Stripe stand-in.

Events are the stand-in's own (what Stripe recorded as the customer acted), queued on the real
SQS queue and consumed through Lambda's delete-or-retry rules (local.sqs_trigger).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import consumer, wiring
from chalicelib.adapters.messaging import SqsEventQueue
from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.payment_requests import StartPayment
from chalicelib.domain.payments import InvoiceLine, Payment
from chalicelib.domain.webhooks import envelope_of
from chalicelib.services.payments import StartedPayment
from local.aws import LocalAws, deploy_stack, put_secrets
from local.sqs_trigger import SqsTrigger
from local.stripe_standin import StripeStandin

SERVICE = "consumer-test"
STRIPE_KEY = "sk_test_consumer"
TOKEN = "consumer-test-token-0123456789"
# Newest first: the service signs with the first and still accepts the second (rotation).
METADATA_KEYS = (
    "consumer-metadata-key-new-0123456789abcdef, consumer-metadata-key-old-0123456789abcdef"
)
ROOT = Path(__file__).resolve().parents[2]
MAX_RECEIVE_COUNT = 2
NOW = "2026-11-29T12:00:00.000+00:00"


@pytest.fixture(scope="session")
def standin() -> Iterator[StripeStandin]:
    with StripeStandin(port=0, api_key=STRIPE_KEY, client_id="ca_consumer") as server:
        yield server


@pytest.fixture(scope="session")
def outputs(aws: LocalAws) -> dict[str, str]:
    outputs = deploy_stack(
        aws,
        ROOT / "infra" / "template.yaml",
        SERVICE,
        {
            "ServiceName": SERVICE,
            "VisibilityTimeoutSeconds": "1",
            "MaxReceiveCount": str(MAX_RECEIVE_COUNT),
        },
    )
    put_secrets(
        aws,
        f"/{SERVICE}",
        {
            "stripe-secret-key": STRIPE_KEY,
            "platform-api-token": TOKEN,
            "metadata-signing-keys": METADATA_KEYS,
            "webhook-signing-secrets": "whsec_consumer_test_0123456789abcdef",
        },
    )
    # The platform's side of the bus: a queue that receives every notification.
    sqs, events = aws.client("sqs"), aws.client("events")
    inbox = sqs.create_queue(QueueName=f"{SERVICE}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]
    bus = outputs["NotificationsBusName"]
    events.put_rule(
        Name="to-inbox", EventBusName=bus, EventPattern=json.dumps({"source": ["stripe-bridge"]})
    )
    events.put_targets(
        Rule="to-inbox", EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn["QueueArn"]}]
    )
    return {**outputs, "InboxUrl": inbox}


@pytest.fixture(autouse=True)
def environment(aws, standin, outputs, monkeypatch) -> Iterator[None]:
    """The environment of the consumer Lambda of the 'consumer-test' stage."""
    settings = {
        **aws.env(),
        "SERVICE_NAME": SERVICE,
        "STAGE": "test",
        "LIVEMODE": "false",
        "STRIPE_API_BASE": standin.url,
        "STRIPE_TIMEOUT_SECONDS": "2",
        "STRIPE_MAX_RETRIES": "1",
        "EVENTS_QUEUE_URL": outputs["EventsQueueUrl"],
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SECRETS_PATH", raising=False)
    wiring.reset()
    consumer.reset()
    yield
    wiring.reset()
    consumer.reset()


class Bridge:
    """One connected account, its customers (played on the stand-in) and the consumer."""

    def __init__(self, aws: LocalAws, standin: StripeStandin, outputs: dict[str, str]) -> None:
        self.aws, self.standin, self.outputs = aws, standin, outputs
        self.account = f"acct_1C{uuid.uuid4().hex[:14]}"
        self.control("/accounts", {"id": self.account})
        wiring.account_store().put(ConnectedAccount(self.account, f"co_{self.account}", False, NOW))
        self.sqs = aws.client("sqs")
        self.outcomes: list[str] = []
        self._told: list[dict[str, Any]] = []

    # --- the customer, on Stripe -----------------------------------------------------------
    def control(self, path: str, body: dict | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.standin.url}/_standin{path}",
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """What Stripe recorded for the account, oldest first."""
        query = f"?account={self.account}" + (f"&type={event_type}" if event_type else "")
        request = urllib.request.Request(f"{self.standin.url}/_standin/events{query}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return [record["event"] for record in json.loads(answer.read())["data"]]

    # --- the platform ----------------------------------------------------------------------
    def start_payment(self, amount: int = 1500, currency: str = "usd") -> Payment:
        return self.start(amount, currency).payment

    def start(self, amount: int = 1500, currency: str = "usd") -> StartedPayment:
        return wiring.payments_service().start(
            StartPayment(f"co_{self.account}", amount, currency, (InvoiceLine("INV-1", amount),))
        )

    def payment(self, payment_id: str) -> Payment:
        payment = wiring.payment_store().get(payment_id)
        assert payment is not None
        return payment

    def told(self, payment_id: str) -> list[dict[str, Any]]:
        """Every notification about the payment that reached the platform so far."""
        return [n for n in self.told_all() if n.get("payment_id") == payment_id]

    def told_all(self) -> list[dict[str, Any]]:
        """Every notification that reached the platform so far, of any type."""
        inbox = self.outputs["InboxUrl"]
        while messages := self.sqs.receive_message(
            QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", []):
            for message in messages:
                self._told.append(json.loads(message["Body"])["detail"])
                self.sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
        return list(self._told)

    # --- the webhook and the consumer ------------------------------------------------------
    def queue(self, *events: dict[str, Any]) -> None:
        """What the webhook does with each verified event."""
        queue = SqsEventQueue(self.sqs, self.outputs["EventsQueueUrl"])
        for event in events:
            queue.send(envelope_of(event), json.dumps(event))

    def consume(self) -> int:
        """One poll of the queue and one invocation of the consumer, as Lambda does."""
        trigger = SqsTrigger(
            self.sqs,
            self.outputs["EventsQueueUrl"],
            self._handler,
            wait_time_seconds=0,
            report_batch_item_failures=False,
        )
        return trigger.run_once()

    def _handler(self, event: dict[str, Any], context: Any) -> None:
        self.outcomes.extend(consumer.consume(event, context))

    def deliver(self, *events: dict[str, Any]) -> None:
        """Queue the events and consume until the queue holds nothing visible."""
        self.queue(*events)
        while self.consume():
            pass

    def deliver_all(self, event_type: str | None = None) -> None:
        self.deliver(*self.handled(self.events(event_type)))

    @staticmethod
    def handled(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES

        return [e for e in events if e["type"] in HANDLED_EVENT_TYPES]

    def drain(self, url_key: str, timeout: float = 5.0) -> None:
        """Empty a queue of what an earlier test left (SQS allows one purge a minute)."""
        deadline = time.monotonic() + timeout
        while self.queue_depth(url_key) and time.monotonic() < deadline:
            for message in self.sqs.receive_message(
                QueueUrl=self.outputs[url_key], MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                self.sqs.delete_message(
                    QueueUrl=self.outputs[url_key], ReceiptHandle=message["ReceiptHandle"]
                )

    def queue_depth(self, url_key: str = "EventsQueueUrl") -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.outputs[url_key], AttributeNames=["All"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def bridge(aws, standin, outputs) -> Bridge:
    bridge = Bridge(aws, standin, outputs)
    for key in ("EventsQueueUrl", "EventsDeadLetterQueueUrl"):
        bridge.drain(key)
    return bridge
