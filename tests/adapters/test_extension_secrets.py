"""Secrets read through the Parameters and Secrets Lambda Extension: its local stand-in answers
from the real SSM (moto), and the webhook with the extension's port set makes no SSM client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from chalicelib import consumer, wiring
from chalicelib.adapters.secrets import (
    ExtensionSecrets,
    MissingSecret,
    SecretsUnavailable,
    SsmSecrets,
)
from chalicelib.settings import Settings, SettingsError
from local.apigw import invoke
from local.aws import put_secrets
from local.parameters_extension import ParametersExtension
from tests.http.conftest import signed, stripe_event

PATH = "/adapters-test-extension"
SESSION_TOKEN = "the-functions-session-token"
WEBHOOK_SECRET = "whsec_extension_0123456789abcdef"
NEW_WEBHOOK_SECRET = "whsec_extension_rolled_in_0123456789"


@pytest.fixture
def extension(aws) -> Iterator[ParametersExtension]:
    put_secrets(
        aws,
        PATH,
        {
            "stripe-secret-key": "sk_test_extension",
            "webhook-signing-secrets": f"{WEBHOOK_SECRET}, whsec_old_one_0123456789",
            "platform-api-token": "extension-platform-token-0123456789",
        },
    )
    with ParametersExtension(aws.client("ssm"), SESSION_TOKEN) as server:
        yield server


def reader(extension: ParametersExtension, token: str | None = SESSION_TOKEN) -> ExtensionSecrets:
    return ExtensionSecrets(extension.port, PATH, token=lambda: token, host="127.0.0.1")


def test_a_secret_is_read_decrypted_as_the_ssm_client_reads_it(aws, extension):
    secrets = reader(extension)
    direct = SsmSecrets(aws.client("ssm"), PATH, max_age_seconds=0)
    for name in ("stripe-secret-key", "webhook-signing-secrets", "platform-api-token"):
        assert secrets.get(name) == direct.get(name)
    assert [request.name for request in extension.requests] == [
        f"{PATH}/stripe-secret-key",
        f"{PATH}/webhook-signing-secrets",
        f"{PATH}/platform-api-token",
    ]
    assert all(request.with_decryption for request in extension.requests)


def test_a_rolled_secret_is_read_at_the_next_call(aws, extension):
    # Nothing is kept in the function: the extension's own TTL is the only delay (0 here).
    secrets = reader(extension)
    assert secrets.get("stripe-secret-key") == "sk_test_extension"
    put_secrets(aws, PATH, {"stripe-secret-key": "sk_test_rolled"})
    assert secrets.get("stripe-secret-key") == "sk_test_rolled"


def test_a_missing_secret_is_missing_as_with_the_ssm_client(extension):
    secrets = reader(extension)
    with pytest.raises(MissingSecret, match=f"{PATH}/stripe-client-id is not set"):
        secrets.get("stripe-client-id")
    assert secrets.get_optional("stripe-client-id") is None
    assert [request.status for request in extension.requests] == [400, 400]


def test_the_wrong_token_is_refused_and_says_so_without_any_value(extension):
    for token in ("someone-elses-token", None):
        with pytest.raises(SecretsUnavailable, match="answered 401") as refused:
            reader(extension, token).get("stripe-secret-key")
        assert "sk_test" not in str(refused.value)
    assert [request.status for request in extension.requests] == [401, 401]


def test_an_extension_that_does_not_answer_is_unavailable_not_missing(aws):
    closed = ParametersExtension(aws.client("ssm"), SESSION_TOKEN)
    port = closed.port
    closed.stop()
    with pytest.raises(SecretsUnavailable, match="could not be read"):
        ExtensionSecrets(port, PATH, token=lambda: SESSION_TOKEN, host="127.0.0.1").get("x")


@pytest.mark.parametrize("port", ["http", "0", "70000", "-1", "27 73"])
def test_a_bad_extension_port_is_a_clear_settings_error(port):
    with pytest.raises(SettingsError, match="PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"):
        Settings.from_env({"STAGE": "test", "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": port})


def test_wiring_uses_the_extension_only_when_its_port_is_set(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    monkeypatch.delenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", raising=False)
    assert Settings.from_env().parameters_extension_port is None
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
    wiring.reset()
    assert isinstance(wiring.secrets(), ExtensionSecrets)
    wiring.reset()


@pytest.fixture
def webhook_lambda(aws, outputs, extension, monkeypatch) -> Iterator[list[str]]:
    """The API Lambda's environment with the extension's layer; the clients boto3 makes."""
    for name, value in {
        **aws.env(),
        "SERVICE_NAME": "adapters-test",
        "SECRETS_PATH": PATH,
        "STAGE": "test",
        "LIVEMODE": "false",
        "PUBLIC_BASE_URL": "https://bridge.example.com",
        "EVENTS_QUEUE_URL": outputs["EventsQueueUrl"],
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension.port),
    }.items():
        monkeypatch.setenv(name, value)
    # A fresh default session, as a Lambda's first request finds: botocore announces each
    # client class it creates on the session's events.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session()
    created: list[str] = []
    boto3.DEFAULT_SESSION.events.register(
        "creating-client-class",
        lambda event_name, **kwargs: created.append(event_name.rsplit(".", 1)[-1]),
    )
    wiring.reset()
    consumer.reset()
    yield created
    wiring.reset()
    consumer.reset()


def test_the_webhook_reads_its_secret_through_the_extension_and_makes_no_ssm_client(
    aws, outputs, extension, webhook_lambda
):
    body = json.dumps(stripe_event())
    answer = invoke(
        "POST", "/webhooks/stripe", body, {"Stripe-Signature": signed(body, WEBHOOK_SECRET)}
    )
    assert (answer.status, answer.body) == (200, {"received": True, "outcome": "queued"})
    assert "ssm" not in webhook_lambda
    assert webhook_lambda == ["sqs"]  # the queue's, and no other
    assert extension.asked() == [f"{PATH}/webhook-signing-secrets"]
    sqs = aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=outputs["EventsQueueUrl"]).get("Messages", [])
    sqs.delete_message(QueueUrl=outputs["EventsQueueUrl"], ReceiptHandle=message["ReceiptHandle"])


def test_a_secret_rolled_in_is_accepted_once_the_extension_sees_it(
    aws, outputs, extension, webhook_lambda
):
    body = json.dumps(stripe_event())
    header = signed(body, NEW_WEBHOOK_SECRET)
    assert invoke("POST", "/webhooks/stripe", body, {"Stripe-Signature": header}).status == 400
    # The new secret goes first, the old stays after it while Stripe signs with both.
    put_secrets(aws, PATH, {"webhook-signing-secrets": f"{NEW_WEBHOOK_SECRET},{WEBHOOK_SECRET}"})
    assert invoke("POST", "/webhooks/stripe", body, {"Stripe-Signature": header}).status == 200
    old = signed(body, WEBHOOK_SECRET)
    assert invoke("POST", "/webhooks/stripe", body, {"Stripe-Signature": old}).status == 200
    sqs = aws.client("sqs")
    while batch := sqs.receive_message(
        QueueUrl=outputs["EventsQueueUrl"], MaxNumberOfMessages=10
    ).get("Messages", []):
        for message in batch:
            sqs.delete_message(
                QueueUrl=outputs["EventsQueueUrl"], ReceiptHandle=message["ReceiptHandle"]
            )
