"""A stage that cannot be used as asked is said in one line, exit code 2, and changes nothing."""

import os
import socket

import pytest

from local.stack import StackConfig
from ops.stage import LOCAL_AWS_ENDPOINT


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def one_line_error(result, says):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert says in result.stderr and "Traceback" not in result.stderr


def no_aws_configuration():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # No profile files and no instance metadata either: nothing the chain could find.
    return {
        **env,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PUBLIC_BASE_URL": "https://bridge.example.com/api",
    }


COMMANDS = [
    ("dlq", "list"),
    ("dlq", "replay", "--all"),
    ("payment", "show", "pay_0123"),
    ("sweep",),
    ("recover-events",),
]


@pytest.mark.parametrize("command", [*COMMANDS, ("provision-webhook", "--url", "https://x.test")])
def test_an_unknown_stage(world, command):
    one_line_error(world.ops(*command, stage="staging"), "unknown stage 'staging'")


@pytest.mark.parametrize("command", COMMANDS)
def test_no_aws_credentials(world, command):
    env = {**no_aws_configuration(), "AWS_REGION": "eu-west-1"}
    one_line_error(world.ops(*command, env=env), "no AWS credentials")


def test_no_aws_region(world):
    env = {**no_aws_configuration(), "AWS_ACCESS_KEY_ID": "AKIA0", "AWS_SECRET_ACCESS_KEY": "x"}
    one_line_error(world.ops("dlq", "list", env=env), "no AWS region")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_stage_whose_stack_is_not_deployed(world, command):
    result = world.ops(*command, env=world.env(SERVICE_NAME="never-deployed"))
    one_line_error(result, "is its stack deployed (ServiceName never-deployed)?")


def test_a_stage_whose_secrets_are_not_set(world):
    result = world.ops(
        "provision-webhook", "--url", "https://x.test", env=world.env(SERVICE_NAME="never-deployed")
    )
    one_line_error(result, "secret /never-deployed/stripe-secret-key is not set")


def test_the_local_stack_not_running(world):
    env = {**no_aws_configuration(), "AWS_ENDPOINT_URL": closed_port()}
    one_line_error(world.ops("dlq", "list", stage="local", env=env), "is the local stack running")


def test_stripe_unreachable(world):
    result = world.ops(
        "provision-webhook", "--url", "https://x.test", env=world.env(STRIPE_API_BASE=closed_port())
    )
    one_line_error(result, "cannot reach http://127.0.0.1:")


def test_the_local_stage_talks_to_the_local_stacks_moto_by_default():
    assert f"http://127.0.0.1:{StackConfig().aws_port}" == LOCAL_AWS_ENDPOINT


def test_payment_show_refuses_what_is_not_a_payment_id(world):
    one_line_error(world.ops("payment", "show", "pay_x'; --"), "is not a payment id")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (("sweep", "--account", "acct_x-y"), "--account 'acct_x-y' is not a Stripe account"),
        (("recover-events", "--account", "nobody"), "--account 'nobody' is not a Stripe account"),
        (("recover-events", "--since", "yesterday"), "--since: since must be an ISO 8601 time"),
        (("recover-events", "--since", "2026-12-01T00:00:00"), "needs a time zone"),
    ],
)
def test_bad_options_of_sweep_and_recovery_are_refused_before_anything_runs(world, command, says):
    one_line_error(world.ops(*command), says)
