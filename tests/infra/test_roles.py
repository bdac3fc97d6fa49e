"""What each Lambda's role lets it do, read from infra/template.yaml as IAM would evaluate it.

The API Lambda serves the public webhooks and pages: if it is ever subverted, it must not be
able to drain the queue, delete payments or accounts, or read another stage's secrets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws import load_template
from tests.infra.iam import ACCOUNT, REGION, StackIam

SERVICE = "stripe-bridge-prod"
OTHER_STAGE = "stripe-bridge-dev"


@pytest.fixture(scope="module")
def iam() -> StackIam:
    template = load_template(Path(__file__).resolve().parents[2] / "infra" / "template.yaml")
    return StackIam(template, SERVICE)


def table(name: str, service: str = SERVICE) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{service}-{name}"


def parameter(name: str, service: str = SERVICE) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{service}/{name}"


def log_group(function: str) -> str:
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{function}:log-stream:x"


QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{SERVICE}-events"
SSM_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aws-ssm-default"
VIA_SSM = f"ssm.{REGION}.amazonaws.com"


def through_ssm(parameter_arn: str) -> dict[str, str]:
    return {"kms:ViaService": VIA_SSM, "kms:EncryptionContext:PARAMETER_ARN": parameter_arn}


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("sqs:SendMessage", QUEUE),
        ("sqs:GetQueueUrl", QUEUE),
        ("dynamodb:PutItem", table("payments")),
        ("dynamodb:UpdateItem", table("payments")),
        ("dynamodb:Query", table("payments") + "/index/by_payment_intent"),
        ("dynamodb:PutItem", table("accounts")),
        ("dynamodb:Query", table("accounts") + "/index/by_company"),
        ("dynamodb:UpdateItem", table("connect-sessions")),
        ("dynamodb:GetItem", table("payment-methods")),
        # The webhooks count deliveries per hour; the overview reads them.
        ("dynamodb:UpdateItem", table("webhook-health")),
        ("dynamodb:Query", table("webhook-health")),
        (
            "events:PutEvents",
            f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{SERVICE}-notifications",
        ),
        ("ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{SERVICE}"),
        ("logs:PutLogEvents", log_group(SERVICE)),
    ],
)
def test_the_api_may_do_what_its_routes_do(iam, action, resource):
    assert iam.allows("ApiRole", action, resource)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        # Draining or hiding queued events is the consumer's alone.
        ("sqs:ReceiveMessage", QUEUE),
        ("sqs:DeleteMessage", QUEUE),
        ("sqs:ChangeMessageVisibility", QUEUE),
        ("sqs:PurgeQueue", QUEUE),
        ("dynamodb:DeleteItem", table("payments")),
        ("dynamodb:DeleteItem", table("accounts")),
        ("dynamodb:Scan", table("payments")),
        ("dynamodb:PutItem", table("payment-methods")),
        ("dynamodb:DeleteItem", table("idempotency")),
        ("dynamodb:PutItem", table("event-failures")),
        ("dynamodb:DeleteItem", table("webhook-health")),
        ("dynamodb:Scan", table("webhook-health")),
        # Another stage's data and secrets in the same account.
        ("dynamodb:GetItem", table("payments", OTHER_STAGE)),
        ("ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{OTHER_STAGE}"),
        ("ssm:PutParameter", parameter("stripe-secret-key")),
        # The consumer's log group: no forging of its lines.
        ("logs:PutLogEvents", log_group(f"{SERVICE}-consume_events")),
    ],
)
def test_the_api_may_not_touch_what_it_does_not_use(iam, action, resource):
    assert not iam.allows("ApiRole", action, resource)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("sqs:ReceiveMessage", QUEUE),
        ("sqs:DeleteMessage", QUEUE),
        ("sqs:GetQueueAttributes", QUEUE),
        ("dynamodb:PutItem", table("payments")),
        ("dynamodb:Query", table("payments") + "/index/by_charge"),
        ("dynamodb:UpdateItem", table("accounts")),
        ("dynamodb:PutItem", table("payment-methods")),
        ("dynamodb:UpdateItem", table("payment-methods")),
        ("dynamodb:DeleteItem", table("idempotency")),
        ("dynamodb:PutItem", table("event-failures")),
        ("dynamodb:UpdateItem", table("event-failures")),
        ("logs:PutLogEvents", log_group(f"{SERVICE}-consume_events")),
    ],
)
def test_the_consumer_may_do_what_repairing_an_event_does(iam, action, resource):
    assert iam.allows("ConsumerRole", action, resource)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("sqs:SendMessage", QUEUE),
        ("dynamodb:DeleteItem", table("payments")),
        ("dynamodb:DeleteItem", table("accounts")),
        ("dynamodb:PutItem", table("accounts")),
        ("dynamodb:GetItem", table("connect-sessions")),
        ("dynamodb:DeleteItem", table("event-failures")),
        ("dynamodb:GetItem", table("idempotency", OTHER_STAGE)),
        ("logs:PutLogEvents", log_group(SERVICE)),
    ],
)
def test_the_consumer_may_not_touch_what_it_does_not_use(iam, action, resource):
    assert not iam.allows("ConsumerRole", action, resource)


def test_only_the_api_encrypts_and_decrypts_the_accounts_secrets(iam):
    key = iam.arn("SecretsKey")
    for action in ("kms:Encrypt", "kms:Decrypt"):
        assert iam.allows("ApiRole", action, key)
        assert not iam.allows("ConsumerRole", action, key)
    assert not iam.allows("ApiRole", "kms:Encrypt", SSM_KEY)
    assert not iam.allows("ApiRole", "kms:Decrypt", SSM_KEY.replace("aws-ssm-default", "other"))


@pytest.mark.parametrize("role", ["ApiRole", "ConsumerRole"])
def test_ssm_secrets_are_decrypted_only_through_ssm_and_only_the_stages_own(iam, role):
    assert iam.allows(role, "kms:Decrypt", SSM_KEY, through_ssm(parameter("stripe-secret-key")))
    # Straight to KMS, not through SSM.
    assert not iam.allows(role, "kms:Decrypt", SSM_KEY)
    assert not iam.allows(
        role,
        "kms:Decrypt",
        SSM_KEY,
        {"kms:EncryptionContext:PARAMETER_ARN": parameter("stripe-secret-key")},
    )
    # Through SSM, but dev's secret (or anyone else's in the account).
    assert not iam.allows(
        role, "kms:Decrypt", SSM_KEY, through_ssm(parameter("stripe-secret-key", OTHER_STAGE))
    )
    assert not iam.allows(
        role, "kms:Decrypt", SSM_KEY, through_ssm(parameter("token", "another-service"))
    )


RECOVERY_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{SERVICE}-recovery"


@pytest.mark.parametrize(
    ("role", "action", "resource"),
    [
        ("RecoveryFanOutRole", "dynamodb:Scan", table("accounts")),
        ("RecoveryFanOutRole", "sqs:SendMessage", RECOVERY_QUEUE),
        ("RecoveryWorkerRole", "dynamodb:GetItem", table("accounts")),
        ("RecoveryWorkerRole", "dynamodb:PutItem", table("recovery")),
        ("RecoveryWorkerRole", "sqs:SendMessage", QUEUE),
        ("RecoveryWorkerRole", "sqs:ReceiveMessage", RECOVERY_QUEUE),
        ("RecoveryWorkerRole", "sqs:DeleteMessage", RECOVERY_QUEUE),
        ("RecoveryWorkerRole", "logs:PutLogEvents", log_group(f"{SERVICE}-recover_account_events")),
    ],
)
def test_event_recovery_may_do_what_it_does(iam, role, action, resource):
    assert iam.allows(role, action, resource)


@pytest.mark.parametrize(
    ("role", "action", "resource"),
    [
        # Recovery only reads accounts and queues events: payments are the consumer's.
        ("RecoveryFanOutRole", "dynamodb:GetItem", table("payments")),
        ("RecoveryFanOutRole", "sqs:SendMessage", QUEUE),
        ("RecoveryFanOutRole", "dynamodb:PutItem", table("accounts")),
        ("RecoveryWorkerRole", "dynamodb:UpdateItem", table("payments")),
        ("RecoveryWorkerRole", "dynamodb:PutItem", table("accounts")),
        ("RecoveryWorkerRole", "dynamodb:Scan", table("accounts")),
        ("RecoveryWorkerRole", "sqs:ReceiveMessage", QUEUE),
        ("RecoveryWorkerRole", "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/secrets"),
    ],
)
def test_event_recovery_may_not_touch_what_it_does_not_use(iam, role, action, resource):
    assert not iam.allows(role, action, resource)


PAYMENT_HISTORY = table("payment-history")


@pytest.mark.parametrize(
    ("role", "action", "resource"),
    [
        ("SweepRole", "dynamodb:Query", table("payments") + "/index/due"),
        ("SweepRole", "dynamodb:Query", table("payments") + "/index/unpublished"),
        ("SweepRole", "dynamodb:GetItem", table("payments")),
        ("SweepRole", "dynamodb:UpdateItem", table("payments")),
        ("SweepRole", "dynamodb:PutItem", PAYMENT_HISTORY),
        ("SweepRole", "dynamodb:GetItem", table("accounts")),
        ("SweepRole", "dynamodb:UpdateItem", table("accounts")),
        ("SweepRole", "dynamodb:Query", table("accounts") + "/index/unpublished"),
        (
            "SweepRole",
            "events:PutEvents",
            f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{SERVICE}-notifications",
        ),
        ("SweepRole", "logs:PutLogEvents", log_group(f"{SERVICE}-sweep_payments")),
        # Every change records its cause in the same transaction, whoever makes it.
        ("ApiRole", "dynamodb:PutItem", PAYMENT_HISTORY),
        ("ApiRole", "dynamodb:Query", PAYMENT_HISTORY),
        ("ConsumerRole", "dynamodb:PutItem", PAYMENT_HISTORY),
    ],
)
def test_the_sweep_may_do_what_it_does_and_every_change_writes_its_history(
    iam, role, action, resource
):
    assert iam.allows(role, action, resource)


@pytest.mark.parametrize(
    ("role", "action", "resource"),
    [
        # It repairs stored payments: it creates none, deletes nothing, scans nothing.
        ("SweepRole", "dynamodb:PutItem", table("payments")),
        ("SweepRole", "dynamodb:DeleteItem", table("payments")),
        ("SweepRole", "dynamodb:Scan", table("payments")),
        ("SweepRole", "dynamodb:Scan", table("accounts")),
        ("SweepRole", "dynamodb:PutItem", table("accounts")),
        ("SweepRole", "dynamodb:Query", table("accounts") + "/index/by_company"),
        ("SweepRole", "dynamodb:UpdateItem", PAYMENT_HISTORY),
        ("SweepRole", "dynamodb:DeleteItem", PAYMENT_HISTORY),
        ("SweepRole", "sqs:SendMessage", QUEUE),
        ("SweepRole", "kms:Decrypt", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/secrets"),
        ("SweepRole", "dynamodb:GetItem", table("payments", OTHER_STAGE)),
        # History is written once and never rewritten.
        ("ApiRole", "dynamodb:UpdateItem", PAYMENT_HISTORY),
        ("ConsumerRole", "dynamodb:DeleteItem", PAYMENT_HISTORY),
    ],
)
def test_the_sweep_may_not_touch_what_it_does_not_use(iam, role, action, resource):
    assert not iam.allows(role, action, resource)
