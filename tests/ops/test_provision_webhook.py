"""The operator command that provisions the Connect webhook endpoint: once, then never again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import stripe

from chalicelib.adapters.stripe_api import API_VERSION
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from local.aws import put_secrets
from local.stripe_standin import StripeStandin

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_ops"
URL = "https://bridge.example.com/api/webhooks/stripe"


@pytest.fixture(scope="module")
def world(aws):
    with StripeStandin(port=0, api_key=KEY) as standin:
        put_secrets(
            aws,
            "/ops-test",
            {"stripe-secret-key": KEY, "webhook-signing-secrets": "whsec_previous_0123456789"},
        )
        yield aws, standin


def provision(world, *extra, public_base_url="https://bridge.example.com/api"):
    aws, standin = world
    env = {**os.environ, **aws.env(), "SERVICE_NAME": "ops-test", "STRIPE_API_BASE": standin.url}
    if public_base_url:  # a deployed stage requires it, in place of the config's placeholder
        env["PUBLIC_BASE_URL"] = public_base_url
    result = subprocess.run(
        [sys.executable, "-m", "ops", "provision-webhook", "--stage", "dev", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result


def stored_secrets(world):
    aws, _ = world
    value = aws.client("ssm").get_parameter(
        Name="/ops-test/webhook-signing-secrets", WithDecryption=True
    )["Parameter"]["Value"]
    return value.split(",")


def endpoints(world):
    _, standin = world
    client = stripe.StripeClient(KEY, base_addresses={"api": standin.url})
    return [e.to_dict() for e in client.v1.webhook_endpoints.list().data]


def test_the_first_run_creates_the_endpoint_and_stores_its_secret(world):
    result = provision(world, "--url", URL)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["action"], report["secret_stored"]) == ("created", True)
    [endpoint] = endpoints(world)
    assert endpoint["url"] == URL and endpoint["api_version"] == API_VERSION
    assert sorted(endpoint["enabled_events"]) == sorted(HANDLED_EVENT_TYPES)
    [held] = world[1].store.dump()["webhook_endpoints"]
    assert held["connect"] is True  # receives the connected accounts' events
    secrets = stored_secrets(world)
    assert secrets[0].startswith("whsec_") and secrets[1:] == ["whsec_previous_0123456789"]
    assert secrets[0] not in result.stdout + result.stderr  # never printed


def test_running_it_again_changes_nothing(world):
    before = (endpoints(world), stored_secrets(world))
    result = provision(world, "--url", URL)
    assert json.loads(result.stdout)["action"] == "unchanged"
    assert (endpoints(world), stored_secrets(world)) == before


def test_an_endpoint_edited_by_hand_is_brought_back(world):
    _, standin = world
    client = stripe.StripeClient(KEY, base_addresses={"api": standin.url})
    [endpoint] = endpoints(world)
    client.v1.webhook_endpoints.update(endpoint["id"], {"enabled_events": ["charge.succeeded"]})
    assert json.loads(provision(world, "--url", URL).stdout)["action"] == "updated"
    [endpoint] = endpoints(world)
    assert sorted(endpoint["enabled_events"]) == sorted(HANDLED_EVENT_TYPES)


def test_without_a_url_it_says_what_is_missing(world):
    result = provision(world, public_base_url=None)
    assert result.returncode == 2 and "PUBLIC_BASE_URL" in result.stderr
