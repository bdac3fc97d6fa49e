"""`chalice package` of every stage, once per test session: what would be deployed, as data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]
STAGES = ("local", "dev", "prod")

# What a careless operator's shell might hold when deploying: Chalice must not listen to it.
DEPLOYING_SHELL = {
    "SERVICE_NAME": "someone-elses-service",
    "EVENTS_QUEUE_NAME": "stripe-bridge-events",
    "CONSUMER_MAX_CONCURRENCY": "1000",
}


@dataclass(frozen=True)
class Packaged:
    stage: str
    directory: Path
    template: dict[str, Any]

    def function(self, logical_id: str) -> dict[str, Any]:
        return self.template["Resources"][logical_id]["Properties"]

    def env(self, logical_id: str) -> dict[str, str]:
        return self.function(logical_id)["Environment"]["Variables"]

    def trigger(self) -> dict[str, Any]:
        [source] = self.function("ConsumeEvents")["Events"].values()
        assert source["Type"] == "SQS"
        return source["Properties"]


def chalice_package(stage: str, out: Path) -> Packaged:
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run(
        [str(chalice), "package", "--stage", stage, str(out)],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **DEPLOYING_SHELL, "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=300,
    )
    return Packaged(stage, out, json.loads((out / "sam.json").read_text()))


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> dict[str, Packaged]:
    # One after the other: the runs share Chalice's dependency cache in .chalice/deployments.
    return {
        stage: chalice_package(stage, tmp_path_factory.mktemp(f"package-{stage}"))
        for stage in STAGES
    }


@pytest.fixture(scope="session")
def chalice_config() -> dict[str, Any]:
    return json.loads((PROJECT / ".chalice" / "config.json").read_text())


@dataclass(frozen=True)
class Bundled:
    """`python -m ops bundle` then `chalice package --stage prod`, in a copy of the project."""

    project: Path
    package: Packaged
    task: Path  # deployment.zip unpacked, as Lambda lays it out in /var/task

    @property
    def zip_path(self) -> Path:
        return self.package.directory / "deployment.zip"


# What a deployment is made of; the rest of the project (tests, the local stack) is not copied.
_DEPLOYED_FILES = (
    "app.py",
    "chalicelib",
    "ops",
    ".chalice/config.json",
    "requirements.txt",
    "requirements-lambda.txt",
)


@pytest.fixture(scope="session")
def bundled(tmp_path_factory) -> Bundled:
    project = tmp_path_factory.mktemp("bundled-project")
    for name in _DEPLOYED_FILES:
        source, target = PROJECT / name, project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    subprocess.run(
        [sys.executable, "-m", "ops", "bundle", "--stage", "prod"],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = tmp_path_factory.mktemp("bundled-package")
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run(
        [str(chalice), "package", "--stage", "prod", str(out)],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=300,
    )
    package = Packaged("prod", out, json.loads((out / "sam.json").read_text()))
    task = tmp_path_factory.mktemp("bundled-task")
    with zipfile.ZipFile(out / "deployment.zip") as archive:
        archive.extractall(task)
    return Bundled(project, package, task)
