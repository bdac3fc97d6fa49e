"""A deployed stage's settings: its public URL is configured, never taken from the request."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import wiring
from chalicelib.http import public_base_url
from chalicelib.settings import DEPLOYED_STAGES, Settings, SettingsError, StageBinding

PUBLIC = "https://pay.example.com"

hosts = st.one_of(
    st.sampled_from(["evil.example", "abc.execute-api.eu-west-1.amazonaws.com", "127.0.0.1:8000"]),
    st.text(min_size=1, max_size=60),
)


def request_with(host: str, proto: str = "https") -> SimpleNamespace:
    return SimpleNamespace(
        headers={"host": host, "x-forwarded-proto": proto}, context={"stage": "api"}
    )


@pytest.fixture
def stage_env(monkeypatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("PUBLIC_BASE_URL", "STAGE", "SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    wiring.reset()
    yield monkeypatch
    wiring.reset()


@pytest.mark.parametrize("stage", sorted(DEPLOYED_STAGES))
def test_a_deployed_stage_without_a_public_url_refuses_to_start(stage):
    with pytest.raises(SettingsError, match=f"PUBLIC_BASE_URL is required in stage {stage}"):
        Settings.from_env({"STAGE": stage})


@pytest.mark.parametrize(
    "url",
    [
        "http://pay.example.com",  # a callback over plain http
        "https://API_ID.execute-api.REGION.amazonaws.com/api",  # the config's placeholder
        "https://pay.example.com/?next=evil",
        "https://pay.example.com/#x",
        "https:///api",
        "pay.example.com",
    ],
)
def test_a_deployed_stage_refuses_a_public_url_that_is_not_one(url):
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL must be"):
        Settings.from_env({"STAGE": "prod", "PUBLIC_BASE_URL": url})


def test_a_deployed_stage_keeps_its_public_url_without_a_trailing_slash():
    settings = Settings.from_env({"STAGE": "prod", "PUBLIC_BASE_URL": f"{PUBLIC}/api/"})
    assert settings.public_base_url == f"{PUBLIC}/api"


def test_the_local_stage_may_leave_it_out_or_use_plain_http():
    assert Settings.from_env({"STAGE": "local"}).public_base_url is None
    local = Settings.from_env({"STAGE": "local", "PUBLIC_BASE_URL": "http://127.0.0.1:8000"})
    assert local.public_base_url == "http://127.0.0.1:8000"


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=hosts, proto=st.sampled_from(["http", "https"]))
def test_in_a_deployed_stage_a_forged_host_header_never_steers_the_links(stage_env, host, proto):
    stage_env.setenv("STAGE", "prod")
    stage_env.setenv("PUBLIC_BASE_URL", PUBLIC)
    wiring.reset()
    assert public_base_url(request_with(host, proto)) == PUBLIC


def test_a_deployed_stage_never_falls_back_to_the_host_header(stage_env):
    stage_env.setenv("STAGE", "prod")
    with pytest.raises(SettingsError):
        public_base_url(request_with("evil.example"))


def test_the_local_stage_answers_on_the_address_it_was_called_on(stage_env):
    stage_env.setenv("STAGE", "local")
    assert public_base_url(request_with("127.0.0.1:8123", "http")) == "http://127.0.0.1:8123"


def test_the_stage_binding_names_the_stages_own_queue():
    binding = StageBinding.from_env(
        {"SERVICE_NAME": "stripe-bridge-prod", "CONSUMER_MAX_CONCURRENCY": "5"}
    )
    assert binding == StageBinding(
        "stripe-bridge-prod",
        "stripe-bridge-prod-events",
        5,
        recovery_queue="stripe-bridge-prod-recovery",
    )


@pytest.mark.parametrize("value", ["1", "1001", "2.5", "many"])
def test_the_consumer_concurrency_must_be_one_sqs_accepts(value):
    with pytest.raises(SettingsError, match="CONSUMER_MAX_CONCURRENCY"):
        StageBinding.from_env({"CONSUMER_MAX_CONCURRENCY": value})
