"""Checks of infra/template.yaml that need no AWS: lint, defaults and the safety settings."""

import re
from pathlib import Path

import pytest
from cfnlint.api import lint_file

from local.aws import load_template

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
TTL_TABLES = {"IdempotencyTable", "ConnectSessionsTable"}
MONEY_TABLES = {"AccountsTable", "PaymentsTable", "PaymentMethodsTable"}


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(TEMPLATE_PATH)


def resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def test_cfn_lint_reports_no_error_and_no_warning():
    matches = lint_file(TEMPLATE_PATH)
    assert [str(match) for match in matches] == []


def test_default_visibility_timeout_is_at_least_six_consumer_timeouts(template):
    parameters = template["Parameters"]
    visibility = int(parameters["VisibilityTimeoutSeconds"]["Default"])
    consumer_timeout = int(parameters["ConsumerTimeoutSeconds"]["Default"])
    assert visibility >= 6 * consumer_timeout


def test_events_queue_uses_the_timeout_and_redrive_parameters(template):
    queue = template["Resources"]["EventsQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == {"Ref": "VisibilityTimeoutSeconds"}
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }


def test_both_queues_keep_messages_fourteen_days_encrypted(template):
    queues = resources_of_type(template, "AWS::SQS::Queue")
    assert set(queues) == {
        "EventsQueue",
        "EventsDeadLetterQueue",
        "RecoveryQueue",
        "RecoveryDeadLetterQueue",
    }
    for queue in queues.values():
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_every_table_is_encrypted_and_on_demand(template):
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    assert len(tables) == 6
    for table in tables.values():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"


def test_tables_have_point_in_time_recovery_except_the_short_lived_ones(template):
    for logical_id, table in resources_of_type(template, "AWS::DynamoDB::Table").items():
        pitr = table["Properties"].get("PointInTimeRecoverySpecification")
        if logical_id in TTL_TABLES:
            assert pitr is None, logical_id
        else:
            assert pitr == {"PointInTimeRecoveryEnabled": True}, logical_id


def test_money_tables_survive_stack_deletion_and_replacement(template):
    for logical_id in MONEY_TABLES:
        resource = template["Resources"][logical_id]
        assert resource["DeletionPolicy"] == "Retain", logical_id
        assert resource["UpdateReplacePolicy"] == "Retain", logical_id


def test_short_lived_tables_expire_items_by_ttl(template):
    ttl = {
        logical_id: template["Resources"][logical_id]["Properties"]["TimeToLiveSpecification"]
        for logical_id in TTL_TABLES
    }
    assert ttl == {
        "IdempotencyTable": {"AttributeName": "expiration", "Enabled": True},
        "ConnectSessionsTable": {"AttributeName": "expires_at", "Enabled": True},
    }


def test_dead_letter_alarm_fires_on_the_first_message_and_notifies_the_alarm_topic(template):
    alarm = template["Resources"]["DeadLetterAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    properties = alarm["Properties"]
    assert properties["Namespace"] == "AWS/SQS"
    assert properties["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert properties["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}}
    ]
    assert properties["Threshold"] == 1
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert properties["Period"] == 60
    assert properties["EvaluationPeriods"] == 1
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_alarm_email_is_subscribed_only_when_given(template):
    subscriptions = resources_of_type(template, "AWS::SNS::Subscription")
    assert [s.get("Condition") for s in subscriptions.values()] == ["HasAlarmEmail"]
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_lambda_policy_grants_no_wildcard_action(template):
    statements = template["Resources"]["LambdaPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    actions = [
        action
        for statement in statements
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    ]
    assert actions, "the policy grants nothing"
    assert not [action for action in actions if "*" in action]
    assert "cloudwatch:PutMetricData" not in actions


def test_every_resource_name_derives_from_the_service_name(template):
    name_properties = ("TableName", "QueueName", "TopicName", "ManagedPolicyName", "RoleName")
    for logical_id, resource in template["Resources"].items():
        for name_property in name_properties:
            if name_property in resource.get("Properties", {}):
                name = resource["Properties"][name_property]
                assert "Fn::Sub" in name, logical_id
                assert name["Fn::Sub"].startswith("${ServiceName}-"), logical_id


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("stripe-bridge", True),
        ("bridge2-staging", True),
        ("Stripe-Bridge", False),
        ("stripe_bridge", False),
        ("stripe-bridge-", False),
        # SSM refuses parameter paths that start with these, and the secrets live under the name.
        ("aws-bridge", False),
        ("ssmbridge", False),
    ],
)
def test_service_name_pattern(template, name, allowed):
    parameter = template["Parameters"]["ServiceName"]
    assert bool(re.fullmatch(parameter["AllowedPattern"], name)) is allowed
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
