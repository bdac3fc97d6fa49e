"""One local AWS (moto on loopback) shared by the tests of the local tooling."""

from pathlib import Path

import pytest

from local.aws import LocalAws


@pytest.fixture(scope="session")
def template_path() -> Path:
    return Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


@pytest.fixture(scope="session")
def local_aws(aws: LocalAws) -> LocalAws:
    return aws
