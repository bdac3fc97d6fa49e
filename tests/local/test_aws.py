"""The local AWS: the template deploys into moto and the resources behave like AWS."""

import threading
import urllib.request

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.aws import LocalAws, StackDeployError, deploy_stack, put_secrets

# moto's CloudFormation cannot create CloudWatch alarms; they would never fire there anyway.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")

SERVICE = "localtest"


@pytest.fixture(scope="module")
def outputs(local_aws, template_path) -> dict[str, str]:
    return deploy_stack(local_aws, template_path, SERVICE, {"ServiceName": SERVICE})


def key_schema(elements: list[dict]) -> list[tuple[str, str]]:
    return [(element["AttributeName"], element["KeyType"]) for element in elements]


def test_local_aws_answers_on_the_port_it_reports(local_aws):
    assert local_aws.port != 0
    with urllib.request.urlopen(f"{local_aws.endpoint_url}/moto-api/config", timeout=5) as reply:
        assert reply.status < 300


def test_env_points_boto3_at_the_local_server(local_aws):
    assert local_aws.env() == {
        "AWS_ENDPOINT_URL": local_aws.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


def test_endpoint_url_needs_a_started_server():
    with pytest.raises(RuntimeError):
        _ = LocalAws().endpoint_url


def test_outputs_name_every_resource_after_the_service(outputs):
    assert outputs["AccountsTableName"] == f"{SERVICE}-accounts"
    assert outputs["PaymentsTableName"] == f"{SERVICE}-payments"
    assert outputs["PaymentMethodsTableName"] == f"{SERVICE}-payment-methods"
    assert outputs["IdempotencyTableName"] == f"{SERVICE}-idempotency"
    assert outputs["ConnectSessionsTableName"] == f"{SERVICE}-connect-sessions"
    assert outputs["EventsQueueName"] == f"{SERVICE}-events"
    assert outputs["EventsQueueUrl"].endswith(f"/{SERVICE}-events")
    assert outputs["EventsQueueArn"].endswith(f":{SERVICE}-events")
    assert outputs["EventsDeadLetterQueueUrl"].endswith(f"/{SERVICE}-events-dlq")
    assert outputs["EventsDeadLetterQueueArn"].endswith(f":{SERVICE}-events-dlq")
    assert outputs["NotificationsBusName"] == f"{SERVICE}-notifications"
    assert outputs["AlarmTopicArn"].endswith(f":{SERVICE}-alarms")
    assert outputs["LambdaPolicyArn"].endswith(f":policy/{SERVICE}-lambda")
    assert outputs["ApiRoleArn"].endswith(f":role/{SERVICE}-api")
    assert outputs["ConsumerRoleArn"].endswith(f":role/{SERVICE}-consumer")
    assert outputs["SecretsKeyArn"].startswith("arn:aws:kms:")
    assert outputs["SecretsPath"] == f"/{SERVICE}/"
    for name in ("Accounts", "Payments", "PaymentMethods", "Idempotency", "ConnectSessions"):
        assert outputs[f"{name}TableArn"].endswith(f":table/{outputs[f'{name}TableName']}")


@pytest.mark.parametrize(
    ("table", "keys", "indexes"),
    [
        (
            "accounts",
            [("account_id", "HASH")],
            {
                "by_company": [("company_id", "HASH"), ("connected_at", "RANGE")],
                "unpublished": [("outbox_pending", "HASH")],
            },
        ),
        (
            "payments",
            [("payment_id", "HASH")],
            {
                "by_payment_intent": [("payment_intent_id", "HASH")],
                "by_charge": [("charge_id", "HASH")],
                "by_source": [("source_id", "HASH")],
                "unpublished": [("outbox_pending", "HASH"), ("updated_at", "RANGE")],
                "due": [("sweep", "HASH"), ("next_check_at", "RANGE")],
            },
        ),
        ("payment-history", [("payment_id", "HASH"), ("version", "RANGE")], {}),
        ("payment-methods", [("account_id", "HASH"), ("payment_method_id", "RANGE")], {}),
        ("idempotency", [("id", "HASH")], {}),
        ("connect-sessions", [("id", "HASH")], {}),
        ("webhook-health", [("account_id", "HASH"), ("hour", "RANGE")], {}),
    ],
)
def test_tables_have_their_keys_and_indexes(local_aws, outputs, table, keys, indexes):
    description = local_aws.client("dynamodb").describe_table(TableName=f"{SERVICE}-{table}")
    table_description = description["Table"]
    assert key_schema(table_description["KeySchema"]) == keys
    assert table_description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    found = {
        index["IndexName"]: key_schema(index["KeySchema"])
        for index in table_description.get("GlobalSecondaryIndexes", [])
    }
    assert found == indexes
    projection = "KEYS_ONLY" if table in ("payments", "accounts") else "ALL"
    for index in table_description.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] == "due":
            # The sweep's index carries its count of checks along, no fact of the payment.
            assert index["Projection"] == {
                "ProjectionType": "INCLUDE",
                "NonKeyAttributes": ["sweep_checks"],
            }
            continue
        # Indexes hold keys only: the stores read the table for the item itself (accounts'
        # items hold sealed secrets, payments' the facts of a payment).
        assert index["Projection"]["ProjectionType"] == projection


@pytest.mark.parametrize(
    ("table", "attribute"),
    [
        ("idempotency", "expiration"),
        ("connect-sessions", "expires_at"),
        ("webhook-health", "expires_at"),
    ],
)
def test_ttl_is_enabled_where_the_template_declares_it(local_aws, outputs, table, attribute):
    ttl = local_aws.client("dynamodb").describe_time_to_live(TableName=f"{SERVICE}-{table}")
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": attribute,
    }


def test_ttl_stays_off_where_the_template_does_not_declare_it(local_aws, outputs):
    ttl = local_aws.client("dynamodb").describe_time_to_live(TableName=f"{SERVICE}-payments")
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


def test_point_in_time_recovery_is_on_for_the_payments(local_aws, outputs):
    backups = local_aws.client("dynamodb").describe_continuous_backups(
        TableName=f"{SERVICE}-payments"
    )
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_conditional_write_refuses_a_second_insert_and_returns_the_old_item(local_aws, outputs):
    dynamodb = local_aws.client("dynamodb")
    item = {"payment_id": {"S": "pay_conditional"}, "status": {"S": "pending"}}
    insert = {
        "TableName": outputs["PaymentsTableName"],
        "ConditionExpression": "attribute_not_exists(payment_id)",
    }
    dynamodb.put_item(Item=item, **insert)
    with pytest.raises(ClientError) as raised:
        dynamodb.put_item(
            Item={**item, "status": {"S": "paid"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
            **insert,
        )
    error = raised.value.response
    assert error["Error"]["Code"] == "ConditionalCheckFailedException"
    assert error["Item"]["status"] == {"S": "pending"}


def test_secrets_round_trip_as_secure_strings(local_aws, outputs):
    path = outputs["SecretsPath"]
    put_secrets(local_aws, path, {"stripe-api-key": "sk_test_old", "webhook-secret": "whsec_1"})
    put_secrets(local_aws, path, {"stripe-api-key": "sk_test_new"})
    ssm = local_aws.client("ssm")
    parameters = ssm.get_parameters_by_path(Path=path, WithDecryption=True)["Parameters"]
    assert {p["Name"]: (p["Type"], p["Value"]) for p in parameters} == {
        f"{path}stripe-api-key": ("SecureString", "sk_test_new"),
        f"{path}webhook-secret": ("SecureString", "whsec_1"),
    }
    encrypted = ssm.get_parameter(Name=f"{path}webhook-secret", WithDecryption=False)
    assert encrypted["Parameter"]["Value"] != "whsec_1"


def test_redeploy_updates_the_redrive_policy_moto_would_keep(local_aws, template_path):
    service = "redeploy"
    parameters = {"ServiceName": service, "MaxReceiveCount": 5, "VisibilityTimeoutSeconds": 60}
    first = deploy_stack(local_aws, template_path, service, parameters)
    second = deploy_stack(local_aws, template_path, service, {**parameters, "MaxReceiveCount": 2})
    assert second == first
    attributes = local_aws.client("sqs").get_queue_attributes(
        QueueUrl=second["EventsQueueUrl"], AttributeNames=["All"]
    )["Attributes"]
    assert '"maxReceiveCount": 2' in attributes["RedrivePolicy"]
    assert second["EventsDeadLetterQueueArn"] in attributes["RedrivePolicy"]
    assert attributes["VisibilityTimeout"] == "60"


def test_failed_deploy_raises_with_the_reason_and_can_be_retried(local_aws, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "Resources:\n"
        "  Queue:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: broken\n"
        "      RedrivePolicy:\n"
        "        deadLetterTargetArn: arn:aws:sqs:us-east-1:123456789012:missing\n"
        "        maxReceiveCount: 1\n"
    )
    for _ in range(2):
        with pytest.raises(StackDeployError, match="broken"):
            deploy_stack(local_aws, broken, "broken", timeout=5)


def test_a_transaction_that_fails_undoes_no_write_made_meanwhile(local_aws, outputs):
    # Writers each add their own mark while others' transactions keep failing their condition:
    # on AWS, and so locally, a failed transaction changes nothing, another's writes included.

    table = outputs["PaymentsTableName"]
    client = local_aws.client("dynamodb")
    key = {"payment_id": {"S": "pay_atomic"}}
    client.put_item(TableName=table, Item={**key, "version": {"N": "1"}})
    for start in range(0, 1000, 25):  # a table of some size takes moto a while to copy
        puts = [
            {"PutRequest": {"Item": {"payment_id": {"S": f"pay_other_{n}"}}}}
            for n in range(start, start + 25)
        ]
        client.batch_write_item(RequestItems={table: puts})
    writers, marks = 2, 30

    def mark(n: int) -> None:
        own = local_aws.client("dynamodb")
        for m in range(marks):
            own.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #m = :v",
                ExpressionAttributeNames={"#m": f"mark_{n}_{m}"},
                ExpressionAttributeValues={":v": {"N": str(m)}},
            )

    def fail() -> None:
        own = local_aws.client("dynamodb")
        for _ in range(marks):
            with pytest.raises(ClientError, match="TransactionCanceled"):
                own.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": key,
                                "UpdateExpression": "SET version = :v",
                                "ConditionExpression": "version = :old",
                                "ExpressionAttributeValues": {
                                    ":v": {"N": "3"},
                                    ":old": {"N": "2"},
                                },
                            }
                        }
                    ]
                )

    threads = [threading.Thread(target=fail) for _ in range(2)]
    threads += [threading.Thread(target=mark, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert {name for name in item if name.startswith("mark_")} == {
        f"mark_{n}_{m}" for n in range(writers) for m in range(marks)
    }


def test_a_counting_server_tallies_each_request_by_caller_service_and_operation(outputs):
    assert LocalAws(port=0).tally is None  # off unless asked for
    with LocalAws(port=0, count_requests=True) as counting:
        assert counting.tally is not None
        dynamodb = counting.client("dynamodb")
        sqs = counting.client("sqs", config=Config(user_agent_appid="tester"))
        key = {"payment_id": {"S": "pay_tallied"}}
        dynamodb.get_item(TableName=outputs["PaymentsTableName"], Key=key)
        dynamodb.get_item(TableName=outputs["PaymentsTableName"], Key=key)
        sqs.receive_message(QueueUrl=outputs["EventsQueueUrl"], WaitTimeSeconds=0)
        served = counting.tally.snapshot()
    assert served["dynamodb GetItem"].count == 2
    assert served["dynamodb GetItem"].seconds > 0
    # An empty poll is told apart: its time is waiting, not work.
    assert served["app/tester sqs ReceiveMessage (empty)"].count == 1
