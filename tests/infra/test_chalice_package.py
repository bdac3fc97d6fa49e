"""`chalice package` for the deploy stage builds, and CloudFormation's linter accepts it."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cfnlint.api import lint_file

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package")
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run(
        [str(chalice), "package", "--stage", "prod", str(out)],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    return out


def test_cfn_lint_accepts_the_packaged_template(package):
    assert [str(match) for match in lint_file(package / "sam.json")] == []


def test_the_consumer_listens_to_the_events_queue_in_batches(package):
    resources = json.loads((package / "sam.json").read_text())["Resources"]
    consumer = resources["ConsumeEvents"]["Properties"]
    source = next(iter(consumer["Events"].values()))
    assert source["Type"] == "SQS"
    assert source["Properties"]["BatchSize"] == 10
    assert source["Properties"]["Queue"]["Fn::Sub"].endswith(":stripe-bridge-events")
    assert consumer["Timeout"] == 30
    assert consumer["Role"] == "arn:aws:iam::ACCOUNT_ID:role/stripe-bridge-lambda"


def test_the_bundle_holds_the_service_and_its_libraries_only(package):
    names = zipfile.ZipFile(package / "deployment.zip").namelist()
    assert "app.py" in names and "chalicelib/services/repair.py" in names
    assert not any(n.startswith(("local/", "tests/", "infra/", "boto3/", "moto/")) for n in names)
    assert any(n.startswith("stripe/") for n in names)
