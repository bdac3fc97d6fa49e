"""What `chalice package --stage S` would deploy, read back from its sam.json for every stage.

Chalice silently drops settings it does not read where they are written (a top-level
`lambda_functions.<fn>.environment_variables`, say), so only its own output proves them.
"""

from __future__ import annotations

import zipfile
from itertools import combinations
from pathlib import Path

import pytest
from cfnlint.api import lint_file

from chalicelib.settings import CONSUMER_CONCURRENCY_RANGE, DEPLOYED_STAGES, Settings, SettingsError
from local.aws import load_template
from tests.infra.conftest import STAGES

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "infra" / "template.yaml")
FUNCTIONS = ("APIHandler", "ConsumeEvents")
DEPLOYED = sorted(DEPLOYED_STAGES)

# Stripe calls a function may make in one invocation when Stripe stops answering: a request of
# the API makes one; the consumer stops its batch at the first unavailable call, after at most
# three calls for one event (re-fetch, its PaymentIntent, a Charge from a Source).
STRIPE_CALLS = {"APIHandler": 1, "ConsumeEvents": 3, "SweepPayments": 3}
# Stripe's rate limit per second (requests of one kind), live and test mode.
STRIPE_RATE_LIMIT = {True: 100, False: 25}
# A consumer makes its calls one after the other, each a round trip of 100 ms at the very least.
CALLS_PER_SECOND_PER_CONSUMER = 10
A_REAL_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/api"


def settings_of(env: dict[str, str]) -> Settings:
    """The stage's settings once the operator has put the real URL in place of the placeholder."""
    return Settings.from_env({**env, "PUBLIC_BASE_URL": A_REAL_URL})


def service_name(packaged, stage: str) -> str:
    return packaged[stage].env("APIHandler")["SERVICE_NAME"]


def role_name(logical_id: str, service: str) -> str:
    pattern = TEMPLATE["Resources"][logical_id]["Properties"]["RoleName"]["Fn::Sub"]
    return pattern.replace("${ServiceName}", service)


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_accepts_the_packaged_template(packaged, stage):
    assert [str(match) for match in lint_file(packaged[stage].directory / "sam.json")] == []


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(
    ("function", "timeout", "stripe_timeout", "stripe_retries"),
    [("APIHandler", 15, 5.0, 1), ("ConsumeEvents", 30, 4.0, 1), ("SweepPayments", 300, 4.0, 1)],
)
def test_each_function_gets_its_timeouts_and_stripe_limits(
    packaged, stage, function, timeout, stripe_timeout, stripe_retries
):
    properties = packaged[stage].function(function)
    env = properties["Environment"]["Variables"]
    assert (properties["Timeout"], properties["MemorySize"]) == (timeout, 512)
    assert properties["Architectures"] == ["arm64"]
    assert float(env["STRIPE_TIMEOUT_SECONDS"]) == stripe_timeout
    assert int(env["STRIPE_MAX_RETRIES"]) == stripe_retries
    # Every try of every call timing out still ends inside the Lambda, with time to answer.
    worst = STRIPE_CALLS[function] * stripe_timeout * (stripe_retries + 1)
    assert worst + 3 <= timeout


def test_the_consumer_timeout_is_the_one_the_queue_is_sized_for(packaged):
    parameters = TEMPLATE["Parameters"]
    for stage in STAGES:
        timeout = packaged[stage].function("ConsumeEvents")["Timeout"]
        assert timeout == int(parameters["ConsumerTimeoutSeconds"]["Default"])
        assert int(parameters["VisibilityTimeoutSeconds"]["Default"]) >= 6 * timeout


@pytest.mark.parametrize("stage", DEPLOYED)
def test_a_deployed_stage_refuses_to_run_until_its_public_url_is_set(packaged, stage):
    for function in FUNCTIONS:
        env = packaged[stage].env(function)
        with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
            Settings.from_env(env)
        with pytest.raises(SettingsError, match="PUBLIC_BASE_URL is required"):
            Settings.from_env({k: v for k, v in env.items() if k != "PUBLIC_BASE_URL"})
        settings = settings_of(env)
        assert settings.stage == stage
        assert settings.livemode is (stage == "prod")
        assert settings.public_base_url == A_REAL_URL
        assert settings.stripe_api_base is None  # real Stripe


def test_the_local_stage_runs_against_the_standin(packaged):
    settings = Settings.from_env(packaged["local"].env("APIHandler"))
    assert settings.stripe_api_base == "http://127.0.0.1:12111"
    assert settings.public_base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("stage", STAGES)
def test_the_consumer_listens_to_its_own_stages_queue_whatever_the_shell_says(packaged, stage):
    # The packaging shell named another service, another queue and 1000 consumers.
    trigger = packaged[stage].trigger()
    service = service_name(packaged, stage)
    assert trigger["Queue"]["Fn::Sub"] == (
        f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{service}-events"
    )
    assert trigger["BatchSize"] == 10
    assert trigger["ScalingConfig"]["MaximumConcurrency"] == int(
        packaged[stage].env("ConsumeEvents")["CONSUMER_MAX_CONCURRENCY"]
    )


@pytest.mark.parametrize("stage", DEPLOYED)
def test_consumers_never_outrun_stripes_rate_limit(packaged, stage):
    livemode = settings_of(packaged[stage].env("ConsumeEvents")).livemode
    consumers = packaged[stage].trigger()["ScalingConfig"]["MaximumConcurrency"]
    low, high = CONSUMER_CONCURRENCY_RANGE
    assert low <= consumers <= high
    # At most four fifths of the limit: the rest is the API's and the operator's.
    assert consumers * CALLS_PER_SECOND_PER_CONSUMER <= 0.8 * STRIPE_RATE_LIMIT[livemode]


@pytest.mark.parametrize("stage", DEPLOYED)
def test_every_function_has_reserved_concurrency_enough_for_its_trigger(packaged, stage):
    api = packaged[stage].function("APIHandler")["ReservedConcurrentExecutions"]
    consumer = packaged[stage].function("ConsumeEvents")["ReservedConcurrentExecutions"]
    assert 1 <= api <= 100
    # Below the trigger's maximum, Lambda would throttle it and the throttled messages would
    # count receives towards the dead-letter queue.
    assert consumer >= packaged[stage].trigger()["ScalingConfig"]["MaximumConcurrency"]


@pytest.mark.parametrize("stage", DEPLOYED)
def test_each_function_runs_with_its_own_role_from_the_stack(packaged, stage):
    service = service_name(packaged, stage)
    api_role = packaged[stage].function("APIHandler")["Role"]
    consumer_role = packaged[stage].function("ConsumeEvents")["Role"]
    assert api_role.endswith(f":role/{role_name('ApiRole', service)}")
    assert consumer_role.endswith(f":role/{role_name('ConsumerRole', service)}")
    assert api_role != consumer_role
    # manage_iam_role false: no role of Chalice's own beside the stack's.
    resources = packaged[stage].template["Resources"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]


@pytest.mark.parametrize("stage", DEPLOYED)
def test_the_sweep_runs_alone_on_its_stages_schedule_with_its_own_role(packaged, stage):
    sweep = packaged[stage].function("SweepPayments")
    # One run at a time: two would check the same due payments twice.
    assert sweep["ReservedConcurrentExecutions"] == 1
    service = service_name(packaged, stage)
    assert sweep["Role"].endswith(f":role/{role_name('SweepRole', service)}")
    [source] = sweep["Events"].values()
    assert source["Type"] == "Schedule"
    assert (
        source["Properties"]["Schedule"] == packaged[stage].env("SweepPayments")["SWEEP_SCHEDULE"]
    )
    assert source["Properties"]["Schedule"] == "rate(5 minutes)"


@pytest.mark.parametrize("stage", DEPLOYED)
def test_the_deployed_names_follow_the_service_name_the_stack_is_deployed_with(
    packaged, chalice_config, stage
):
    service = service_name(packaged, stage)
    # Chalice names the Lambdas "<app_name>-<stage>[-<handler>]": the roles' log groups and
    # the alarms' dimensions in the template are written in terms of ServiceName.
    assert service == f"{chalice_config['app_name']}-{stage}"
    # ... and the REST API after the app, which names the API Gateway metrics (ApiName).
    assert (
        packaged[stage].template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["info"][
            "title"
        ]
        == service
    )
    assert chalice_config["stages"][stage]["api_gateway_stage"] == "api"
    for function in FUNCTIONS:
        env = packaged[stage].env(function)
        assert env["STAGE"] == stage and env["SERVICE_NAME"] == service


def test_the_stages_known_to_settings_are_the_deployed_ones(chalice_config):
    assert set(chalice_config["stages"]) - {"local"} == DEPLOYED_STAGES


def test_dev_and_prod_share_no_name_path_queue_role_or_api(packaged):
    def names(stage: str) -> dict[str, str]:
        settings = settings_of(packaged[stage].env("APIHandler"))
        return {
            "service": settings.service_name,
            "secrets": settings.secrets_path,
            "payments table": settings.payments_table,
            "queue": packaged[stage].trigger()["Queue"]["Fn::Sub"],
            "api role": packaged[stage].function("APIHandler")["Role"],
            "consumer role": packaged[stage].function("ConsumeEvents")["Role"],
            "api": packaged[stage].template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
                "info"
            ]["title"],
        }

    for first, second in combinations(DEPLOYED, 2):
        a, b = names(first), names(second)
        assert {k: v for k, v in a.items() if b[k] == v} == {}, (first, second)
        # Nor is one stage's secrets path a prefix of the other's (GetParametersByPath).
        assert not b["secrets"].startswith(a["secrets"] + "/")


def test_the_bundle_holds_the_service_and_its_libraries_only(packaged):
    names = zipfile.ZipFile(packaged["prod"].directory / "deployment.zip").namelist()
    assert "app.py" in names and "chalicelib/services/repair.py" in names
    assert not any(n.startswith(("local/", "tests/", "infra/", "boto3/", "moto/")) for n in names)
