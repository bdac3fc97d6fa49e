"""The Lambdas' libraries in vendor/, as they are deployed: installed for the Lambda's platform,
pruned of what no function ever imports, and compiled for the Lambda's Python.

Chalice copies vendor/ into the deployment package as it is (requirements.txt stays empty, so
that `chalice package` and `chalice deploy` add no unpruned, uncompiled copies). Lambda's task
directory is read-only: without .pyc beside them, every cold start compiles the libraries again.
"""

from __future__ import annotations

import ast
import compileall
import os
import py_compile
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
VENDOR = PROJECT_DIR / "vendor"
REQUIREMENTS = PROJECT_DIR / "requirements-lambda.txt"
# The Lambda runtime's Python: Chalice deploys the runtime of the Python running it.
LAMBDA_PYTHON = (3, 13)
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# Shipped by the Lambda Python runtime (/var/runtime): never bundled.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

# Whole packages no function imports, each checked by tracing the imports of every function's
# code paths (the tests in process, `bench.cold_start` from the unpacked package) and by
# `unreachable_imports` below: no kept module imports them outside `if TYPE_CHECKING:`.
PRUNED_PACKAGES: dict[str, str] = {
    # Request parameters as TypedDicts, for type checkers; services import them only under
    # TYPE_CHECKING, and `stripe.params` is reached only as an attribute nobody reads.
    "stripe.params": "stripe's TypedDicts of request parameters (type checking only)",
    "stripe.test_helpers": "Stripe's test clocks and simulated objects (tests only)",
    # Powertools' parts this service does not use (it uses logging, metrics, batch,
    # idempotency, parameters and the middleware factory).
    "aws_lambda_powertools.event_handler": "Powertools' HTTP routers (Chalice routes here)",
    "aws_lambda_powertools.utilities.parser": "Powertools' pydantic models (pydantic absent)",
    "aws_lambda_powertools.utilities.feature_flags": "Powertools' feature flags (unused)",
    "aws_lambda_powertools.utilities.streaming": "Powertools' S3 streaming (unused)",
    "aws_lambda_powertools.utilities.validation": "Powertools' JSON Schema validation (unused)",
    "aws_lambda_powertools.utilities.data_masking": "Powertools' data masking (unused)",
    "aws_lambda_powertools.utilities.auth_alpha": "Powertools' alpha auth helpers (unused)",
    "aws_lambda_powertools.utilities.kafka": "Powertools' Kafka consumer (unused)",
    "aws_lambda_powertools.utilities.streaming_large_messages": "(unused)",
}
# Imports of pruned modules that only run with pydantic installed (Powertools' optional
# dependency: neither bundled nor in the Lambda runtime), so never here.
PYDANTIC_ONLY: dict[str, str] = {
    "aws_lambda_powertools.shared.functions": "aws_lambda_powertools.event_handler.openapi",
    "aws_lambda_powertools.utilities.batch.types": "aws_lambda_powertools.utilities.parser",
}
# Never imported by anything: tests, stubs, scripts, others' caches.
PRUNED_DIRECTORIES = ("tests", "__pycache__")
PRUNED_SUFFIXES = (".pyi",)
PRUNED_TOP_LEVEL = ("bin",)


class BundleError(Exception):
    """Why the bundle cannot be built, in one line for the operator."""


@dataclass(frozen=True)
class Sizes:
    installed: int
    pruned: int
    compiled: int
    files: int


def python_error() -> str | None:
    """Why this interpreter cannot compile the bundle, or None."""
    if sys.version_info[:2] != LAMBDA_PYTHON:
        wanted = ".".join(map(str, LAMBDA_PYTHON))
        running = ".".join(map(str, sys.version_info[:2]))
        return (
            f"the Lambdas run Python {wanted}, this is Python {running}: its .pyc would be "
            f"ignored (run it as .venv/bin/python -m ops bundle, or with python{wanted})"
        )
    if sys.implementation.name != "cpython":
        return f"the Lambdas run CPython, this is {sys.implementation.name}"
    return None


def platform_of(config: dict[str, Any], stage: str | None) -> str:
    """The wheel platform of the stage's `lambda_architecture` (the stage's, else top-level)."""
    architecture = config.get("lambda_architecture", "x86_64")
    if stage is not None:
        if stage not in config.get("stages", {}):
            raise BundleError(f"unknown stage {stage!r} (stages: {', '.join(config['stages'])})")
        architecture = config["stages"][stage].get("lambda_architecture", architecture)
    if architecture not in PLATFORMS:
        raise BundleError(f"lambda_architecture {architecture!r}: one of {', '.join(PLATFORMS)}")
    return PLATFORMS[architecture]


def build(config: dict[str, Any], stage: str | None = None, vendor: Path = VENDOR) -> Sizes:
    """vendor/ made again from requirements-lambda.txt: the same pins give the same bundle."""
    problem = python_error()
    if problem:
        raise BundleError(problem)
    platform = platform_of(config, stage)
    staging = vendor.with_name(vendor.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    install(staging, platform)
    installed = tree_size(staging)
    prune(staging)
    pruned = tree_size(staging)
    unreachable = list(unreachable_imports(staging))
    if unreachable:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleError("pruned modules still imported: " + "; ".join(unreachable[:5]))
    files = compile_tree(staging, py_compile.PycInvalidationMode.UNCHECKED_HASH)
    compile_own_code(staging)
    compiled = tree_size(staging)
    shutil.rmtree(vendor, ignore_errors=True)
    staging.rename(vendor)
    return Sizes(installed, pruned, compiled, files)


def install(target: Path, platform: str) -> None:
    wanted = ".".join(map(str, LAMBDA_PYTHON))
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        wanted,
        "--only-binary=:all:",
        "-r",
        str(REQUIREMENTS),
    ]
    answer = subprocess.run(command, capture_output=True, text=True)
    if answer.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        errors = [line for line in answer.stderr.splitlines() if line.startswith("ERROR")]
        raise BundleError(
            f"pip could not install {REQUIREMENTS.name} for {platform}, CPython {wanted}: "
            + ("; ".join(errors) or answer.stderr.strip()[-500:])
        )
    for name in RUNTIME_PROVIDED:
        if (target / name).exists():
            raise BundleError(f"{name} would be bundled: the Lambda runtime provides it")


def prune(root: Path) -> None:
    for module in PRUNED_PACKAGES:
        shutil.rmtree(root.joinpath(*module.split(".")), ignore_errors=True)
    for name in PRUNED_TOP_LEVEL:
        shutil.rmtree(root / name, ignore_errors=True)
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_dir() and path.name in PRUNED_DIRECTORIES:
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(PRUNED_SUFFIXES):
            path.unlink()


def is_pruned(module: str) -> bool:
    return any(_within(module, package) for package in PRUNED_PACKAGES)


def _within(module: str, package: str | None) -> bool:
    return package is not None and (module == package or module.startswith(package + "."))


def unreachable_imports(root: Path) -> Iterator[str]:
    """Each import of a pruned module by a kept one, outside `if TYPE_CHECKING:` blocks."""
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        module = module.removesuffix(".__init__")
        for imported in runtime_imports(ast.parse(path.read_bytes()), package):
            if is_pruned(imported) and not _within(imported, PYDANTIC_ONLY.get(module)):
                yield f"{module} imports {imported}"


def runtime_imports(tree: ast.AST, package: str) -> Iterator[str]:
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from (n for c in child.orelse for n in (c, *_runtime_nodes(c)))
            continue
        yield child
        yield from _runtime_nodes(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def compile_tree(root: Path, mode: py_compile.PycInvalidationMode) -> int:
    """Compiles every .py under root; the number of files."""
    sources = list(root.rglob("*.py"))
    ok = compileall.compile_dir(
        root, quiet=2, force=True, workers=0, invalidation_mode=mode
    )
    if not ok:
        raise BundleError(f"some files under {root} do not compile with this Python")
    return len(sources)


def compile_own_code(vendor: Path) -> None:
    """app.py's and chalicelib's .pyc, checked against their source at import: they change with
    every edit, and a stale one must never run (Chalice ships chalicelib/__pycache__ itself, and
    app.py's lands at the package's root from vendor/__pycache__)."""
    checked = py_compile.PycInvalidationMode.CHECKED_HASH
    lib = PROJECT_DIR / "chalicelib"
    for cache in lib.rglob("__pycache__"):
        for pyc in cache.glob("*.pyc"):
            if not (cache.parent / (pyc.name.split(".", 1)[0] + ".py")).exists():
                pyc.unlink()  # a module since removed: nothing of it must ship
    compile_tree(lib, checked)
    py_compile.compile(
        str(PROJECT_DIR / "app.py"),
        cfile=str(vendor / "__pycache__" / f"app.{sys.implementation.cache_tag}.pyc"),
        dfile="app.py",
        doraise=True,
        invalidation_mode=checked,
    )


def tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in _files(root))


def _files(root: Path) -> Iterable[Path]:
    for directory, _, names in os.walk(root):
        for name in names:
            yield Path(directory, name)
