"""SQS queueing with routing attributes, and secrets from SSM."""

import json

from chalicelib.adapters.messaging import SqsEventQueue
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
    try:
        secrets.get("platform-api-token")
    except MissingSecret as error:
        assert "/adapters-test-secrets/platform-api-token" in str(error)
    else:
        raise AssertionError("a missing secret must be an error")
