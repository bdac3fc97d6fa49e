"""The template's optional subscription of the platform: nothing without its parameters; with a
queue's ARN, every notification the service publishes reaches that queue as EventBridge sends it."""

from __future__ import annotations

import json
import time

import pytest

from chalicelib.adapters.messaging import EventBridgeNotifier
from chalicelib.domain.payments import InvoiceLine, Payment, PaymentStatus, notification_of
from local.aws import deploy_stack, load_template
from tests.notification_schemas import check_event

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

AT = "2026-11-29T12:00:00.000+00:00"


def platform_queue(local_aws, name: str) -> tuple[str, str]:
    sqs = local_aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def test_without_its_parameters_no_subscription_is_made(local_aws, template_path):
    service = "nosubscription"
    outputs = deploy_stack(local_aws, template_path, service, {"ServiceName": service})
    rules = local_aws.client("events").list_rules(EventBusName=f"{service}-notifications")
    # The archive's own rule is EventBridge's, not a subscription.
    assert [r["Name"] for r in rules["Rules"] if "platform" in r["Name"]] == []
    assert not [key for key in outputs if key.startswith("Platform")]
    queues = local_aws.client("sqs").list_queues(QueueNamePrefix=f"{service}-platform")
    assert queues.get("QueueUrls", []) == []


def test_a_published_notification_reaches_the_platforms_queue(local_aws, template_path):
    service = "subscribed"
    inbox, inbox_arn = platform_queue(local_aws, "subscribed-platform-inbox")
    outputs = deploy_stack(
        local_aws,
        template_path,
        service,
        {"ServiceName": service, "PlatformQueueArn": inbox_arn},
    )
    assert outputs["PlatformQueueRuleArn"].endswith(
        f"rule/{service}-notifications/{service}-to-platform-queue"
    )
    [target] = local_aws.client("events").list_targets_by_rule(
        Rule=f"{service}-to-platform-queue", EventBusName=f"{service}-notifications"
    )["Targets"]
    assert target["Arn"] == inbox_arn
    assert target["DeadLetterConfig"]["Arn"] == outputs["PlatformDeliveryDeadLetterQueueArn"]

    payment = Payment(
        "pay_1a2b3c", "co_1", "acct_1Sub", 1500, "usd", (InvoiceLine("INV-1", 1500),), AT,
        status=PaymentStatus.SUCCEEDED, amount_received=1500, version=2, updated_at=AT,
    )  # fmt: skip
    notifier = EventBridgeNotifier(local_aws.client("events"), outputs["NotificationsBusName"])
    notifier.publish(notification_of(payment))

    sqs, deadline, received = local_aws.client("sqs"), time.monotonic() + 10, []
    while not received and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1).get("Messages", [])
    [message] = received
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == ("stripe-bridge", "payment.updated")
    detail = check_event(event)
    assert (detail["notification_id"], detail["status"]) == ("pay_1a2b3c.v2", "succeeded")


def test_the_endpoint_subscription_retries_and_dead_letters_on_its_own(template_path):
    template = load_template(template_path)
    resources = template["Resources"]
    rule = resources["PlatformEndpointRule"]
    assert rule["Condition"] == "HasPlatformEndpoint"
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["PlatformApiDestination", "Arn"]}
    assert target["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": {"Ref": "PlatformDeliveryMaxAgeSeconds"},
        "MaximumRetryAttempts": {"Ref": "PlatformDeliveryMaxRetries"},
    }
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": ["PlatformDeliveryDeadLetterQueue", "Arn"]}
    }
    for name in ("PlatformConnection", "PlatformApiDestination", "PlatformDestinationRole"):
        assert resources[name]["Condition"] == "HasPlatformEndpoint", name
    # The key never sits in the stack's parameters: CloudFormation reads it from its secret.
    auth = resources["PlatformConnection"]["Properties"]["AuthParameters"]
    assert "resolve:secretsmanager" in auth["ApiKeyAuthParameters"]["ApiKeyValue"]["Fn::Sub"]
    for name in ("PlatformDeliveryDeadLetterQueue", "PlatformDeliveryDeadLetterQueuePolicy"):
        assert resources[name]["Condition"] == "HasPlatformSubscription", name
