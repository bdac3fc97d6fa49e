"""Checks of infra/template.yaml that need no AWS: lint, defaults and the safety settings."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import lint_file

from local.aws import load_template
from tests.infra.iam import StackIam

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT / "infra" / "template.yaml"
ROLES = ("ApiRole", "ConsumerRole", "RecoveryFanOutRole", "RecoveryWorkerRole", "SweepRole")
TTL_TABLES = {
    "IdempotencyTable",
    "ConnectSessionsTable",
    "EventFailuresTable",
    "WebhookHealthTable",
}
MONEY_TABLES = {"AccountsTable", "PaymentsTable", "PaymentMethodsTable", "PaymentHistoryTable"}


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
        "PlatformDeliveryDeadLetterQueue",
    }
    for queue in queues.values():
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_every_table_is_encrypted_and_on_demand(template):
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    # Every table is named here, so a new one is checked on purpose.
    assert set(tables) == MONEY_TABLES | TTL_TABLES | {"RecoveryTable"}
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
        "EventFailuresTable": {"AttributeName": "expires_at", "Enabled": True},
        "WebhookHealthTable": {"AttributeName": "expires_at", "Enabled": True},
    }


def test_dead_letter_alarm_fires_on_arrivals_not_on_depth(template):
    properties = template["Resources"]["DeadLetterAlarm"]["Properties"]
    # A static threshold on the depth would stay in alarm until a redrive and miss new arrivals;
    # SQS's NumberOfMessagesSent does not count what a redrive policy moves there.
    assert "MetricName" not in properties
    metrics = {metric["Id"]: metric for metric in properties["Metrics"]}
    [returned] = [metric for metric in metrics.values() if metric["ReturnData"]]
    [watched] = [metric for metric in metrics.values() if "MetricStat" in metric]
    stat = watched["MetricStat"]
    assert stat["Metric"]["Namespace"] == "AWS/SQS"
    assert stat["Metric"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert stat["Metric"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}}
    ]
    assert returned["Expression"] == f"DIFF(FILL({watched['Id']}, 0))"
    assert (properties["ComparisonOperator"], properties["Threshold"]) == (
        "GreaterThanThreshold",
        0,
    )
    assert properties["EvaluationPeriods"] * stat["Period"] <= 300
    assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def emitted_metric(name: str, service_name: str) -> dict:
    """The EMF record the service prints for one count of `name`, in a fresh interpreter."""
    code = (
        "from chalicelib.observability import count, metrics\n"
        f"count({name!r})\n"
        "metrics.flush_metrics()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env={**os.environ, "SERVICE_NAME": service_name},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    [line] = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(line)


def test_enqueue_failure_alarm_watches_the_metric_the_webhook_writes(template):
    service = "stripe-bridge-prod"
    properties = template["Resources"]["WebhookEnqueueFailedAlarm"]["Properties"]
    record = emitted_metric("WebhookEnqueueFailed", service)
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert properties["Namespace"] == directive["Namespace"]
    assert properties["MetricName"] in [metric["Name"] for metric in directive["Metrics"]]
    dimensions = {
        d["Name"]: StackIam(template, service).resolve(d["Value"]) for d in properties["Dimensions"]
    }
    assert directive["Dimensions"] == [list(dimensions)]
    assert dimensions == {name: record[name] for name in dimensions}
    assert (properties["Statistic"], properties["Threshold"]) == ("Sum", 1)
    # Another stage in the same account writes another dimension: its failures stay its own.
    assert emitted_metric("WebhookEnqueueFailed", "stripe-bridge-dev")["service"] != service


def test_consumer_errors_and_api_5xx_alarms_name_what_chalice_deploys(template):
    stack = StackIam(template, "stripe-bridge-prod")
    consumer = template["Resources"]["ConsumerErrorsAlarm"]["Properties"]
    assert (consumer["Namespace"], consumer["MetricName"]) == ("AWS/Lambda", "Errors")
    # Chalice names an event handler "<app_name>-<stage>-<handler>", ServiceName being the
    # first two (tests/infra/test_chalice_package.py).
    assert [stack.resolve(d["Value"]) for d in consumer["Dimensions"]] == [
        "stripe-bridge-prod-consume_events"
    ]
    api = template["Resources"]["Api5xxAlarm"]["Properties"]
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert {d["Name"]: stack.resolve(d["Value"]) for d in api["Dimensions"]} == {
        "ApiName": "stripe-bridge-prod",
        "Stage": "api",
    }
    for alarm in (consumer, api):
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_alarm_email_is_subscribed_only_when_given(template):
    subscriptions = resources_of_type(template, "AWS::SNS::Subscription")
    assert [s.get("Condition") for s in subscriptions.values()] == ["HasAlarmEmail"]
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_no_role_grants_a_wildcard_action_or_metric_writes(template):
    for role in ROLES:
        actions = [
            action
            for statement in StackIam(template, "x").statements(role)
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
        ]
        assert actions, f"{role} grants nothing"
        assert not [action for action in actions if "*" in action], role
        # EMF metrics travel in the logs, not through PutMetricData.
        assert "cloudwatch:PutMetricData" not in actions, role


def test_every_role_is_output_for_the_chalice_config(template):
    outputs = template["Outputs"]
    for role in ROLES:
        assert outputs[f"{role}Arn"]["Value"] == {"Fn::GetAtt": [role, "Arn"]}
    assert outputs["SecretsKeyArn"]["Value"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}
    roles = resources_of_type(template, "AWS::IAM::Role")
    # Besides the Lambdas' roles, only the one EventBridge assumes to call the platform.
    assert set(roles) == {*ROLES, "PlatformDestinationRole"}
    assert roles["PlatformDestinationRole"]["Condition"] == "HasPlatformEndpoint"


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
