"""SQS queueing with routing attributes, and secrets from SSM."""

import json

import pytest

from chalicelib.adapters.messaging import EventBridgeNotifier, SqsEventQueue
from chalicelib.adapters.secrets import MissingSecret, SsmSecrets
from chalicelib.domain.webhooks import EventEnvelope
from local.aws import put_secrets


def test_a_queued_event_carries_its_routing_attributes(aws, outputs):
    sqs = aws.client("sqs")
    queue = SqsEventQueue(sqs, outputs["EventsQueueUrl"])
    body = json.dumps({"id": "evt_1", "data": {"object": {"id": "pi_1"}}})
    queue.send(EventEnvelope("evt_1", "payment_intent.succeeded", "acct_1", False), body)
    message = sqs.receive_message(
        QueueUrl=outputs["EventsQueueUrl"], MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"][0]
    assert message["Body"] == body
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "event_id": "evt_1",
        "event_type": "payment_intent.succeeded",
        "account": "acct_1",
        "livemode": "false",
    }
    queue.delete(message["ReceiptHandle"])


def test_secrets_are_read_decrypted_and_cached(aws):
    put_secrets(aws, "/adapters-test-secrets", {"stripe-secret-key": "sk_test_1"})
    clock = [0.0]
    secrets = SsmSecrets(aws.client("ssm"), "/adapters-test-secrets", 300, lambda: clock[0])
    assert secrets.get("stripe-secret-key") == "sk_test_1"
    put_secrets(aws, "/adapters-test-secrets", {"stripe-secret-key": "sk_test_2"})
    assert secrets.get("stripe-secret-key") == "sk_test_1"  # cached
    clock[0] = 301.0
    assert secrets.get("stripe-secret-key") == "sk_test_2"  # a rolled key arrives
    with pytest.raises(MissingSecret, match="/adapters-test-secrets/platform-api-token"):
        secrets.get("platform-api-token")


def test_a_notification_reaches_a_subscriber_of_the_bus(aws, outputs):
    sqs, events = aws.client("sqs"), aws.client("events")
    inbox = sqs.create_queue(QueueName="adapters-platform-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = outputs["NotificationsBusName"]
    events.put_rule(
        Name="inbox", EventBusName=bus, EventPattern=json.dumps({"source": ["stripe-bridge"]})
    )
    events.put_targets(Rule="inbox", EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn}])

    EventBridgeNotifier(events, bus).publish({"notification_id": "pay_1.v1", "status": "succeeded"})

    [message] = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1)["Messages"]
    delivered = json.loads(message["Body"])
    assert delivered["detail-type"] == "payment.updated"
    assert delivered["detail"] == {"notification_id": "pay_1.v1", "status": "succeeded"}


def test_a_refused_notification_is_an_error_not_a_silent_loss(aws):
    with pytest.raises(Exception, match="does not exist|refused"):
        EventBridgeNotifier(aws.client("events"), "no-such-bus").publish({"notification_id": "x"})
