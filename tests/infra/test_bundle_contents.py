"""What `python -m ops bundle` then `chalice package` ship: Python 3.13, compiled, pruned, and
nothing pruned that a function imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bench.cold_start import runtime_dir
from ops.bundle import PRUNED_PACKAGES, is_pruned, unreachable_imports
from tests.infra.conftest import Bundled

CACHE_TAG = "cpython-313"
# Chalice itself adds these last, from the Chalice that packages, and drops whatever vendor/
# puts under chalice/: they are the only sources shipped without their .pyc.
ADDED_BY_CHALICE = {"chalice/__init__.py", "chalice/app.py"}

IMPORT_HANDLER = """
import json, sys
sys.path[:0] = sys.argv[1:3]
module, _, name = sys.argv[3].rpartition(".")
getattr(__import__(module), name)
print(json.dumps({m: getattr(sys.modules[m], "__file__", None) for m in list(sys.modules)}))
"""


@pytest.fixture(scope="module")
def functions(bundled: Bundled) -> dict[str, dict]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in bundled.package.template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


@pytest.fixture(scope="module")
def names(bundled: Bundled) -> list[str]:
    with zipfile.ZipFile(bundled.zip_path) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> Path:
    """boto3 and what else Lambda's runtime ships, compiled, as /var/runtime holds it."""
    return runtime_dir(tmp_path_factory.mktemp("runtime") / "python")


@pytest.fixture(scope="module")
def imported(bundled: Bundled, functions, runtime) -> dict[str, dict[str, str | None]]:
    """Per handler: every module loaded by importing it in a fresh interpreter, and its file."""
    loaded = {}
    for logical_id, function in functions.items():
        answer = subprocess.run(
            [
                sys.executable,
                "-I",
                "-S",
                "-B",
                "-c",
                IMPORT_HANDLER,
                str(bundled.task),
                str(runtime),
                function["Handler"],
            ],
            env={
                "PATH": os.environ.get("PATH", ""),
                "AWS_DEFAULT_REGION": "us-east-1",
                **function.get("Environment", {}).get("Variables", {}),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert answer.returncode == 0, answer.stderr[-3000:]
        loaded[logical_id] = json.loads(answer.stdout.strip().splitlines()[-1])
    return loaded


def test_every_function_runs_python_3_13(functions):
    assert functions
    assert {f["Runtime"] for f in functions.values()} == {"python3.13"}
    assert {a for f in functions.values() for a in f.get("Architectures", ["x86_64"])} == {
        "arm64"
    }


def pyc_of(source: str) -> str:
    directory, _, name = source.rpartition("/")
    return "/".join(filter(None, [directory, "__pycache__", f"{name[:-3]}.{CACHE_TAG}.pyc"]))


def test_every_shipped_module_has_its_cpython_313_pyc(names):
    shipped = set(names)
    sources = [n for n in names if n.endswith(".py")]
    missing = [source for source in sources if pyc_of(source) not in shipped]
    assert len(sources) > 500
    assert set(missing) == ADDED_BY_CHALICE


def test_the_libraries_pyc_are_used_without_a_source_check(bundled: Bundled):
    # Lambda unpacks the zip with timestamps a timestamp-checked .pyc would not match.
    pyc = bundled.task / "stripe" / "__pycache__" / f"_webhook.{CACHE_TAG}.pyc"
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked


def test_the_services_own_pyc_are_checked_against_their_source(bundled: Bundled):
    # app.py and chalicelib change with every edit: a stale .pyc must never run.
    for pyc in (
        bundled.task / "__pycache__" / f"app.{CACHE_TAG}.pyc",
        bundled.task / "chalicelib" / "__pycache__" / f"wiring.{CACHE_TAG}.pyc",
    ):
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b11, pyc


def test_nothing_pruned_is_shipped(bundled: Bundled, names):
    for package in PRUNED_PACKAGES:
        assert not (bundled.task.joinpath(*package.split("."))).exists(), package
    assert not (bundled.task / "stripe" / "params").exists()
    assert not [n for n in names if n.endswith(".pyi") or "/tests/" in n]


def test_no_shipped_module_imports_a_pruned_one(bundled: Bundled):
    assert list(unreachable_imports(bundled.task)) == []


def test_each_handler_imports_from_the_bundle_nothing_pruned(bundled: Bundled, imported):
    runtime_provided = ("boto3", "botocore", "s3transfer", "dateutil", "six", "jmespath")
    for logical_id, modules in imported.items():
        assert not [m for m in modules if is_pruned(m)], logical_id
        outside = {
            name: path
            for name, path in modules.items()
            if path
            and not path.startswith(str(bundled.task))
            and name.split(".")[0] not in runtime_provided
            and not path.startswith(sys.base_prefix)
        }
        assert outside == {}, logical_id
        assert modules["app"] == str(bundled.task / "app.py")


def test_the_bundle_ships_the_libraries_and_not_the_sdk(names):
    tops = {n.split("/")[0] for n in names}
    assert {"stripe", "aws_lambda_powertools", "jinja2", "requests", "chalicelib"} <= tops
    assert not {"boto3", "botocore", "s3transfer", "bin"} & tops


def test_the_bundle_ships_less_source_than_before_pruning(bundled: Bundled):
    with zipfile.ZipFile(bundled.zip_path) as archive:
        infos = archive.infolist()
    source = sum(i.file_size for i in infos if i.filename.endswith(".py"))
    compiled = sum(i.file_size for i in infos if i.filename.endswith(".pyc"))
    # Unpruned, the libraries' sources alone were 20 MB; stripe/params 5.8 MB of them.
    assert source < 13e6
    assert compiled < source
    assert bundled.zip_path.stat().st_size < 8e6
