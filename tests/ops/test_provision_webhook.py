"""The operator command that provisions the Connect webhook endpoint: once, then never again.

Each test starts from a stage of its own (see conftest.py); one that needs an endpoint already
provisioned provisions it first itself.
"""

import json

import stripe

from chalicelib.adapters.stripe_api import API_VERSION
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from tests.ops.conftest import SIGNING_SECRET, STRIPE_KEY

URL = "https://bridge.example.com/api/webhooks/stripe"


def provision(world, *extra):
    return world.ops("provision-webhook", *extra)


def stored_secrets(world):
    value = world.aws.client("ssm").get_parameter(
        Name=f"/{world.service}/webhook-signing-secrets", WithDecryption=True
    )["Parameter"]["Value"]
    return value.split(",")


def endpoints(world):
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": world.standin.url})
    return [e.to_dict() for e in client.v1.webhook_endpoints.list().data]


def provisioned(world):
    result = provision(world, "--url", URL)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_first_run_creates_the_endpoint_and_stores_its_secret(world):
    result = provision(world, "--url", URL)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["action"], report["secret_stored"]) == ("created", True)
    [endpoint] = endpoints(world)
    assert endpoint["url"] == URL and endpoint["api_version"] == API_VERSION
    assert sorted(endpoint["enabled_events"]) == sorted(HANDLED_EVENT_TYPES)
    [held] = world.standin.store.dump()["webhook_endpoints"]
    assert held["connect"] is True  # receives the connected accounts' events
    secrets = stored_secrets(world)
    assert secrets[0].startswith("whsec_") and secrets[1:] == [SIGNING_SECRET]
    assert secrets[0] not in result.stdout + result.stderr  # never printed


def test_running_it_again_changes_nothing(world):
    assert provisioned(world)["action"] == "created"
    before = (endpoints(world), stored_secrets(world))
    assert provisioned(world)["action"] == "unchanged"
    assert (endpoints(world), stored_secrets(world)) == before


def test_an_endpoint_edited_by_hand_is_brought_back(world):
    provisioned(world)
    client = stripe.StripeClient(STRIPE_KEY, base_addresses={"api": world.standin.url})
    [endpoint] = endpoints(world)
    client.v1.webhook_endpoints.update(endpoint["id"], {"enabled_events": ["charge.succeeded"]})
    assert provisioned(world)["action"] == "updated"
    [endpoint] = endpoints(world)
    assert sorted(endpoint["enabled_events"]) == sorted(HANDLED_EVENT_TYPES)


def without_public_url(world):
    return {k: v for k, v in world.env().items() if k != "PUBLIC_BASE_URL"}


def test_without_a_url_it_says_what_is_missing_and_changes_nothing(world):
    # A deployed stage's config holds a placeholder until the operator sets its public URL.
    result = world.ops("provision-webhook", env=without_public_url(world))
    assert result.returncode == 2 and "PUBLIC_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert endpoints(world) == [] and stored_secrets(world) == [SIGNING_SECRET]


def test_the_stages_public_base_url_gives_the_default_url(world):
    # PUBLIC_BASE_URL in its config
    result = world.ops("provision-webhook", stage="local", env=without_public_url(world))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["url"] == "http://127.0.0.1:8000/webhooks/stripe"
