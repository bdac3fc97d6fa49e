"""The SnapStart route: `chalice package --merge-template` with the template of
`python -m ops snapstart-template`, read back from the merged sam.json and linted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.api import lint_file

from ops.snapstart import snapstart_template
from tests.infra.conftest import DEPLOYING_SHELL, PROJECT

ALIAS_INVOKE = "functions/${APIHandlerAliaslive}/invocations"


@pytest.fixture(scope="module")
def merged(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("snapstart")
    env = {**os.environ, **DEPLOYING_SHELL, "AWS_DEFAULT_REGION": "us-east-1"}
    merge = work / "snapstart.json"
    subprocess.run(
        [sys.executable, "-m", "ops", "snapstart-template", "--stage", "prod", "--output", merge],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    chalice = Path(sys.executable).with_name("chalice")
    out = work / "out"
    subprocess.run(
        [str(chalice), "package", "--stage", "prod", "--merge-template", str(merge), str(out)],
        cwd=PROJECT,
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    return out / "sam.json", json.loads((out / "sam.json").read_text())


def functions(template: dict) -> dict[str, dict]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_cfn_lint_reports_no_error_on_the_merged_template(merged):
    path, _ = merged
    assert [str(match) for match in lint_file(path)] == []


def test_every_function_runs_published_versions_with_snapstart_behind_an_alias(merged):
    _, template = merged
    found = functions(template)
    assert set(found) == {
        "APIHandler",
        "ConsumeEvents",
        "SweepPayments",
        "ScheduleEventRecovery",
        "RecoverAccountEvents",
    }
    for properties in found.values():
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert properties["AutoPublishAlias"] == "live"
        # SnapStart needs python3.12 or later; Chalice writes the runtime of its interpreter.
        major, minor = properties["Runtime"].removeprefix("python").split(".")
        assert (int(major), int(minor)) >= (3, 12)


def test_the_functions_keep_the_names_the_stacks_roles_and_alarms_expect(merged):
    _, template = merged
    names = {k: p["FunctionName"] for k, p in functions(template).items()}
    assert names == {
        "APIHandler": "stripe-bridge-prod",
        "ConsumeEvents": "stripe-bridge-prod-consume_events",
        "SweepPayments": "stripe-bridge-prod-sweep_payments",
        "ScheduleEventRecovery": "stripe-bridge-prod-schedule_event_recovery",
        "RecoverAccountEvents": "stripe-bridge-prod-recover_account_events",
    }


def test_every_sqs_trigger_reports_batch_item_failures_and_its_handler_knows(merged):
    _, template = merged
    sqs_functions = 0
    for properties in functions(template).values():
        events = [e for e in properties.get("Events", {}).values() if e["Type"] == "SQS"]
        for event in events:
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            # Chalice's own settings of the trigger are kept.
            assert event["Properties"]["Queue"]["Fn::Sub"].endswith(
                "stripe-bridge-prod-events"
            ) or (event["Properties"]["Queue"]["Fn::Sub"].endswith("stripe-bridge-prod-recovery"))
            assert "BatchSize" in event["Properties"]
        if events:
            sqs_functions += 1
            assert (
                properties["Environment"]["Variables"]["SQS_REPORT_BATCH_ITEM_FAILURES"] == "true"
            )
            assert properties["Environment"]["Variables"]["SERVICE_NAME"] == "stripe-bridge-prod"
        else:
            assert "SQS_REPORT_BATCH_ITEM_FAILURES" not in properties["Environment"]["Variables"]
    assert sqs_functions == 2


def test_every_route_of_the_api_calls_the_alias_not_latest(merged):
    # $LATEST never runs from a snapshot: an integration left on it would lose SnapStart.
    _, template = merged
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    uris = [
        operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        for methods in paths.values()
        for operation in methods.values()
        if "x-amazon-apigateway-integration" in operation
    ]
    from app import app

    assert len(uris) == sum(len(methods) for methods in app.routes.values())
    assert all(uri.endswith(ALIAS_INVOKE) for uri in uris)
    permission = template["Resources"]["APIHandlerInvokePermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "APIHandlerAliaslive"}


def test_the_template_follows_the_apps_routes():
    from app import app

    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    template = snapstart_template("dev", app.routes, config)
    paths = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert {(p, m.upper()) for p, methods in paths.items() for m in methods} == {
        (path, method) for path, methods in app.routes.items() for method in methods
    }
    assert template["Resources"]["APIHandler"]["Properties"]["FunctionName"] == "stripe-bridge-dev"


def test_an_unknown_stage_is_refused_by_name():
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    with pytest.raises(ValueError, match="no stage 'staging'.*dev, local, prod"):
        snapstart_template("staging", {}, config)
