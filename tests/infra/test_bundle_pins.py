"""The Lambda bundle holds exactly the pinned, tested versions of every library it ships."""

import os
import re
import subprocess
import sys
import zipfile
from email.parser import HeaderParser
from importlib.metadata import version
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    pinned = {}
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        match = _PIN.fullmatch(requirement)
        assert match, f"requirements.txt: {requirement!r} is not pinned with =="
        pinned[canonical(match[1])] = match[2]
    return pinned


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> dict[str, str]:
    """Name and version of every distribution in the packaged deployment.zip."""
    out = tmp_path_factory.mktemp("bundle")
    subprocess.run(
        [str(Path(sys.executable).with_name("chalice")), "package", "--stage", "prod", str(out)],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    found = {}
    with zipfile.ZipFile(out / "deployment.zip") as bundle:
        for name in bundle.namelist():
            if re.fullmatch(r"[^/]+\.(dist-info/METADATA|egg-info/PKG-INFO)", name):
                headers = HeaderParser().parsestr(bundle.read(name).decode("utf-8"))
                found[canonical(headers["Name"])] = headers["Version"]
    return found


def test_every_library_in_the_bundle_is_pinned_at_the_version_it_ships(bundled):
    pinned = pins()
    assert {"stripe", "aws-lambda-powertools", "requests", "urllib3"} <= set(bundled)
    assert {name: pinned.get(name) for name in bundled} == bundled


def test_the_aws_sdk_is_left_to_the_lambda_runtime(bundled):
    assert not {"boto3", "botocore", "s3transfer"} & set(bundled)


def test_the_pins_are_the_versions_the_tests_run_with():
    assert {name: version(name) for name in pins()} == pins()
