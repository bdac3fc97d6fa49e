"""The template merged into `chalice package` output for SnapStart and partial batch responses.

`chalice deploy` publishes no versions (aws/chalice#2147) and cannot set ReportBatchItemFailures
(aws/chalice#2029). `chalice package --merge-template` can: this builds that template for a
stage. SnapStart runs only published versions, so every function gets an alias ("live") that
its triggers call. SAM points the SQS and schedule events at the alias by itself, but the REST
API calls the function from Chalice's swagger, one integration per route: each is pointed at
the alias here, so the template follows the routes app.py has. The functions keep the names
`chalice deploy` gives them, which the stack's roles (log groups) and alarms expect.
"""

from __future__ import annotations

from typing import Any

from chalicelib.settings import REPORT_BATCH_ITEM_FAILURES

ALIAS = "live"
API_FUNCTION = "APIHandler"
# Chalice's logical ids, and the handler names in app.py (which Chalice puts in the names).
HANDLERS = {
    "ConsumeEvents": "consume_events",
    "SweepPayments": "sweep_payments",
    "ScheduleEventRecovery": "schedule_event_recovery",
    "RecoverAccountEvents": "recover_account_events",
}
SQS_EVENTS = {
    "ConsumeEvents": "ConsumeEventsSqsEventSource",
    "RecoverAccountEvents": "RecoverAccountEventsSqsEventSource",
}
# The alias AutoPublishAlias makes, as SAM names it ("<function>Alias<name>"); Ref gives its
# ARN. (SAM's "APIHandler.Alias" would do in a Ref, but cfn-lint refuses it inside a Sub.)
API_ALIAS = f"{API_FUNCTION}Alias{ALIAS}"
_INVOKE = (
    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
    f"${{{API_ALIAS}}}/invocations"
)


def snapstart_template(stage: str, routes: dict[str, Any], config: dict[str, Any]) -> dict:
    """The merge template of `stage`, for the routes of the app (`app.routes`)."""
    stages = config.get("stages", {})
    if stage not in stages:
        known = ", ".join(sorted(stages))
        raise ValueError(f"no stage {stage!r} in .chalice/config.json (stages: {known})")
    prefix = f"{config['app_name']}-{stage}"
    resources: dict[str, Any] = {
        API_FUNCTION: {"Properties": _published(prefix)},
        f"{API_FUNCTION}InvokePermission": {"Properties": {"FunctionName": {"Ref": API_ALIAS}}},
    }
    for logical_id, handler in HANDLERS.items():
        properties = _published(f"{prefix}-{handler}")
        if logical_id in SQS_EVENTS:
            properties["Environment"] = {"Variables": {REPORT_BATCH_ITEM_FAILURES: "true"}}
            properties["Events"] = {
                SQS_EVENTS[logical_id]: {
                    "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
                }
            }
        resources[logical_id] = {"Properties": properties}
    paths = {
        path: {
            method.lower(): {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": _INVOKE}}}
            for method in methods
        }
        for path, methods in routes.items()
    }
    resources["RestAPI"] = {"Properties": {"DefinitionBody": {"paths": paths}}}
    return {"Resources": resources}


def _published(function_name: str) -> dict[str, Any]:
    return {
        "FunctionName": function_name,
        "AutoPublishAlias": ALIAS,
        "SnapStart": {"ApplyOn": "PublishedVersions"},
    }
