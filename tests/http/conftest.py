"""The API in-process against moto (AWS) and the Stripe stand-in, with real secrets in SSM."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from chalice import Chalice

from chalicelib import consumer, wiring
from chalicelib.domain.accounts import ConnectedAccount
from local.aws import LocalAws, deploy_stack, put_secrets
from local.stripe_standin import StripeStandin
from tests.openapi_contract import lambda_answer_problems

SERVICE = "http-test"
TOKEN = "test-platform-token-0123456789"
SECRET = "whsec_platform_secret_0123456789abcdef"
OLD_SECRET = "whsec_platform_secret_rolling_out_0123"
STRIPE_KEY = "sk_test_http"
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(
    os.environ.get("STRIPE_FIXTURES", ROOT.parent / "shared" / "stripe" / "openapi-fixtures3.json")
)


@pytest.fixture(scope="session")
def standin() -> Iterator[StripeStandin]:
    with StripeStandin(port=0, api_key=STRIPE_KEY, client_id="ca_http") as server:
        yield server


@pytest.fixture(scope="session")
def outputs(aws: LocalAws) -> dict[str, str]:
    outputs = deploy_stack(aws, ROOT / "infra" / "template.yaml", SERVICE, {"ServiceName": SERVICE})
    put_secrets(
        aws,
        f"/{SERVICE}",
        {
            "stripe-secret-key": STRIPE_KEY,
            "platform-api-token": TOKEN,
            "metadata-signing-keys": "http-test-metadata-key-0123456789abcdef",
            "webhook-signing-secrets": f"{SECRET},{OLD_SECRET}",
            "stripe-client-id": "ca_http",
        },
    )
    return outputs


@pytest.fixture(autouse=True)
def answers_match_the_openapi_document(monkeypatch) -> None:
    """Every answer the app gives a test, through local.apigw or chalice.test.Client, is checked
    against openapi.yaml: the test fails at the call, naming the route and what differs."""
    answer = Chalice.__call__

    def checked(self: Chalice, event: Any, context: Any) -> Any:
        response = answer(self, event, context)
        request = event.get("requestContext", {}) if isinstance(event, dict) else {}
        # Only what the app serves: a route or method it lacks is answered by the framework.
        if request.get("httpMethod") in self.routes.get(request.get("resourcePath"), {}):
            found = lambda_answer_problems(event, response)
            if found:
                raise AssertionError("openapi.yaml does not describe it:\n  " + "\n  ".join(found))
        return response

    monkeypatch.setattr(Chalice, "__call__", checked)


@pytest.fixture(autouse=True)
def environment(aws, standin, outputs, monkeypatch) -> Iterator[None]:
    """The environment a Lambda of the 'http-test' stage would have."""
    for name, value in {
        **aws.env(),
        "SERVICE_NAME": SERVICE,
        "LIVEMODE": "false",
        "STRIPE_API_BASE": standin.url,
        "STAGE": "test",
        "PUBLIC_BASE_URL": "https://bridge.example.com",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("EVENTS_QUEUE_URL", "SECRETS_PATH"):
        monkeypatch.delenv(name, raising=False)
    wiring.reset()
    consumer.reset()
    yield
    wiring.reset()
    consumer.reset()


@pytest.fixture
def queue(aws, outputs):
    """Reads the events queue dry: what the webhook queued since the last read."""
    sqs = aws.client("sqs")
    url = outputs["EventsQueueUrl"]

    def drain() -> list[dict[str, Any]]:
        taken = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", []):
            for message in batch:
                taken.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return taken

    drain()
    return drain


def stripe_example(kind: str) -> dict[str, Any]:
    if not FIXTURES.exists():
        raise AssertionError(
            f"Stripe's example objects are missing: {FIXTURES} (set STRIPE_FIXTURES)"
        )
    return json.loads(FIXTURES.read_text())["resources"][kind]


def stripe_event(event_type: str = "payment_intent.succeeded", **changes: Any) -> dict[str, Any]:
    """A Connect event shaped like Stripe's, around Stripe's example PaymentIntent."""
    event = stripe_example("event")
    event.update(
        {
            "type": event_type,
            "account": "acct_1Connected",
            "livemode": False,
            "data": {"object": stripe_example("payment_intent")},
        }
    )
    event.update(changes)
    return event


def signed(body: str, secret: str = SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)


def connect_account(standin: StripeStandin, account_id: str, company_id: str) -> str:
    """An account connected on both sides, as if its admin had gone through OAuth."""
    request = urllib.request.Request(
        f"{standin.url}/_standin/accounts",
        data=json.dumps({"id": account_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request).close()
    wiring.account_store().put(ConnectedAccount(account_id, company_id, False, "2026-11-29T00:00Z"))
    return account_id
