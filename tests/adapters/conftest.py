"""The adapters against the real AWS APIs, served by moto with infra/template.yaml deployed."""

from pathlib import Path

import pytest

from local.aws import LocalAws, deploy_stack

SERVICE = "adapters-test"
TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


@pytest.fixture(scope="session")
def outputs(aws: LocalAws) -> dict[str, str]:
    return deploy_stack(aws, TEMPLATE, SERVICE, {"ServiceName": SERVICE})
