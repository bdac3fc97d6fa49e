"""The Lambda bundle holds exactly the pinned, tested versions of every library it ships."""

import re
import zipfile
from email.parser import HeaderParser
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.infra.conftest import Bundled

PROJECT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    pinned = {}
    for requirement in requirements(PROJECT / "requirements-lambda.txt"):
        match = _PIN.fullmatch(requirement)
        assert match, f"requirements-lambda.txt: {requirement!r} is not pinned with =="
        pinned[canonical(match[1])] = match[2]
    return pinned


def requirements(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@pytest.fixture(scope="module")
def distributions(bundled: Bundled) -> dict[str, str]:
    """Name and version of every distribution in the packaged deployment.zip."""
    found = {}
    with zipfile.ZipFile(bundled.zip_path) as bundle:
        for name in bundle.namelist():
            if re.fullmatch(r"[^/]+\.(dist-info/METADATA|egg-info/PKG-INFO)", name):
                headers = HeaderParser().parsestr(bundle.read(name).decode("utf-8"))
                found[canonical(headers["Name"])] = headers["Version"]
    return found


def test_every_library_in_the_bundle_is_pinned_at_the_version_it_ships(distributions):
    pinned = pins()
    assert {"stripe", "aws-lambda-powertools", "requests", "urllib3"} <= set(distributions)
    assert {name: pinned.get(name) for name in distributions} == distributions


def test_every_pin_is_shipped(distributions):
    assert set(pins()) == set(distributions)


def test_the_aws_sdk_is_left_to_the_lambda_runtime(distributions):
    assert not {"boto3", "botocore", "s3transfer"} & set(distributions)


def test_chalice_installs_nothing_itself():
    # Whatever requirements.txt lists, Chalice would ship a second, uncompiled copy of.
    assert requirements(PROJECT / "requirements.txt") == []
    assert "-r requirements-lambda.txt" in requirements(PROJECT / "requirements-dev.txt")


def test_the_pins_are_the_versions_the_tests_run_with():
    assert {name: version(name) for name in pins()} == pins()
