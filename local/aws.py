"""The local AWS: moto served on loopback, with infra/template.yaml deployed into it.

Used by the local stack runner and by the tests that need real AWS APIs without an account.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from local.counting import RequestTally

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"

# The template names its IAM policy and role, which CloudFormation accepts only with this.
STACK_CAPABILITIES = ["CAPABILITY_NAMED_IAM"]

_DONE_STATUSES = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
# A stack whose creation failed cannot be updated, on AWS as in moto: it must go first.
_DEAD_STATUSES = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"}


class StackDeployError(RuntimeError):
    """The stack did not reach a complete state; the message lists the failed events."""


# moto's state is one per process, and so is this lock.
_DYNAMODB_LOCK = threading.Lock()


def _one_dynamodb_request_at_a_time(app: Any) -> Any:
    """The WSGI app, answering DynamoDB's requests one at a time, each whole.

    moto runs a transaction by copying the tables first and, if a condition fails, putting the
    copy back: a write that another request made in between is undone. DynamoDB applies each
    request atomically, and so does moto when its DynamoDB requests do not overlap.
    """

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with _DYNAMODB_LOCK:
            return list(app(environ, start_response))

    return serve


_SERVICE_IN_CREDENTIAL = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]*)/")
_APP_ID = re.compile(r"(?:^|\s)app/(\S+)")


def request_name(environ: dict[str, Any]) -> str:
    """ "<service> <operation>" of an AWS request as the SDK signed it, e.g. "dynamodb GetItem";
    led by "app/<id> " when the client set an app id (`Config(user_agent_appid=...)`)."""
    match = _SERVICE_IN_CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else "unsigned"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        name = f"{service} {target.rpartition('.')[2]}"
    else:
        # The query protocol (CloudFormation) names its action in the body: leave that unread.
        name = f"{service} {environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')}"
    app = _APP_ID.search(environ.get("HTTP_USER_AGENT", ""))
    return f"app/{app.group(1)} {name}" if app else name


def _counted(app: Any, tally: RequestTally) -> Any:
    """The WSGI app, each request named and timed in the tally (the answer read whole first).

    A long poll that found nothing is tallied apart ("... (empty)"): its time is waiting,
    not work.
    """

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        body = list(app(environ, start_response))
        elapsed = time.perf_counter() - started
        name = request_name(environ)
        if name.endswith("sqs ReceiveMessage") and b"".join(body).strip() in (b"", b"{}"):
            name += " (empty)"
        tally.record(name, elapsed)
        return body

    return serve


class _MotoServer(ThreadedMotoServer):
    """moto's threaded server, with DynamoDB's requests applied whole (and, if given a tally,
    each request counted and timed: DynamoDB's inside the lock, without the wait for it)."""

    def __init__(self, *args: Any, tally: RequestTally | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tally = tally

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        if self._tally is not None:
            app = _counted(app, self._tally)
        app = _one_dynamodb_request_at_a_time(app)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class LocalAws:
    """A moto server in a thread of this process, answering every AWS service on one port.

    moto keeps its state per process, not per server: two instances in one process share it.
    With `count_requests`, `tally` counts and times every request served (benchmarks).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = REGION,
        quiet: bool = True,
        count_requests: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.region = region
        self.quiet = quiet
        self.tally = RequestTally() if count_requests else None
        self._server: ThreadedMotoServer | None = None
        # One session keeps botocore's parsed service models between clients (a fresh one
        # costs about 0.2 s); creating clients from it is not thread-safe, hence the lock.
        self._session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=region,
        )
        self._session_lock = threading.Lock()

    def start(self, timeout: float = 10.0) -> LocalAws:
        if self._server is not None:
            return self
        if self.quiet:
            # moto serves through werkzeug, which otherwise logs every request it answers.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = _MotoServer(
            ip_address=self.host, port=self.port, verbose=False, tally=self.tally
        )
        self._server.start()
        # With port 0 the system picks a free port: read back the one actually bound.
        self.port = self._server.get_host_and_port()[1]
        self._wait_until_answering(timeout)
        return self

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/config", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError) as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not answer on {self.endpoint_url}") from error
                time.sleep(0.05)

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalAws is not started")
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and the AWS CLI) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def client(self, service_name: str, **kwargs: Any) -> Any:
        """A boto3 client for this server, whatever AWS settings the environment holds."""
        with self._session_lock:
            return self._session.client(service_name, endpoint_url=self.endpoint_url, **kwargs)

    def reset(self) -> None:
        """Forget every resource, in every service."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation short forms (!Ref, !Sub...) as their long forms."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(template_path: str | Path) -> dict:
    """The template as a dict, intrinsic functions in their long form ({"Ref": ...})."""
    return yaml.load(Path(template_path).read_text(), Loader=_CloudFormationLoader)


def deploy_stack(
    aws: LocalAws,
    template_path: str | Path,
    stack_name: str,
    parameters: dict[str, Any] | None = None,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Create or update the stack from the template and return its outputs by key."""
    cloudformation = aws.client("cloudformation")
    request = {
        "StackName": stack_name,
        "TemplateBody": Path(template_path).read_text(),
        "Parameters": [
            {"ParameterKey": key, "ParameterValue": str(value)}
            for key, value in (parameters or {}).items()
        ],
        "Capabilities": STACK_CAPABILITIES,
    }
    status = _stack_status(cloudformation, stack_name)
    if status in _DEAD_STATUSES:
        cloudformation.delete_stack(StackName=stack_name)
        _wait_for_stack(cloudformation, stack_name, timeout)
        status = None
    try:
        if status is None:
            cloudformation.create_stack(**request)
        else:
            cloudformation.update_stack(**request)
    except ClientError as error:
        if "No updates are to be performed" not in str(error):
            report = _failure_report(cloudformation, stack_name, str(error))
            if status is None:
                # moto fails a create on the spot and leaves the stack "in progress" for
                # ever; remove it so the next deploy can start afresh.
                cloudformation.delete_stack(StackName=stack_name)
            raise StackDeployError(report) from error

    status = _wait_for_stack(cloudformation, stack_name, timeout)
    if status not in _DONE_STATUSES:
        raise StackDeployError(_failure_report(cloudformation, stack_name, status))

    apply_what_moto_skips(aws, load_template(template_path), stack_name)
    return stack_outputs(aws, stack_name)


def stack_outputs(aws: LocalAws, stack_name: str) -> dict[str, str]:
    """The outputs of a deployed stack, by key."""
    stack = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _stack_status(cloudformation: Any, stack_name: str) -> str | None:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    status = stacks[0]["StackStatus"] if stacks else None
    return None if status == "DELETE_COMPLETE" else status


def _wait_for_stack(cloudformation: Any, stack_name: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while True:
        status = _stack_status(cloudformation, stack_name)
        if status is None or not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise StackDeployError(f"stack {stack_name} still {status} after {timeout} s")
        time.sleep(0.1)


def _failure_report(cloudformation: Any, stack_name: str, outcome: str | None) -> str:
    lines = [f"stack {stack_name} failed: {outcome}"]
    try:
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
    except ClientError:
        events = []
    for event in reversed(events):
        if event["ResourceStatus"].endswith("FAILED"):
            lines.append(
                f"  {event['LogicalResourceId']} ({event['ResourceType']}) "
                f"{event['ResourceStatus']}: {event.get('ResourceStatusReason', '')}"
            )
    return "\n".join(lines)


def apply_what_moto_skips(aws: LocalAws, template: dict, stack_name: str) -> None:
    """Set through the plain APIs what moto's CloudFormation leaves out, as read from the template.

    moto deploys the resources but ignores a table's TimeToLiveSpecification and
    PointInTimeRecoverySpecification, and on a stack update keeps a queue's old RedrivePolicy
    and retention. Without this the local stack would, for instance, keep redriving to the DLQ
    after the old maxReceiveCount. CloudWatch alarms are not created at all; they would never
    fire on moto anyway, so they are left out.
    """
    cloudformation = aws.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    resolver = _Resolver(
        aws,
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        physical_ids=_physical_ids(cloudformation, stack_name),
    )
    dynamodb = aws.client("dynamodb")
    sqs = aws.client("sqs")
    for logical_id, resource in template.get("Resources", {}).items():
        physical_id = resolver.physical_ids.get(logical_id)
        if physical_id is None:  # left out by a false Condition
            continue
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            settings = resolver.resolve(_pick(properties, _TABLE_SETTINGS))
            _apply_table_settings(dynamodb, physical_id, settings)
        elif resource["Type"] == "AWS::SQS::Queue":
            settings = resolver.resolve(_pick(properties, _QUEUE_SETTINGS))
            _apply_queue_settings(sqs, physical_id, settings)


def _physical_ids(cloudformation: Any, stack_name: str) -> dict[str, str]:
    resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
    # moto lists the resources it could not create (the alarms) without any id: skip them.
    return {
        resource["LogicalResourceId"]: resource["PhysicalResourceId"]
        for resource in resources
        if resource.get("LogicalResourceId") and resource.get("PhysicalResourceId")
    }


_TABLE_SETTINGS = ("TimeToLiveSpecification", "PointInTimeRecoverySpecification")
_QUEUE_SETTINGS = ("VisibilityTimeout", "MessageRetentionPeriod", "RedrivePolicy")


def _pick(properties: dict, names: tuple[str, ...]) -> dict:
    return {name: properties[name] for name in names if name in properties}


def _apply_table_settings(dynamodb: Any, table_name: str, properties: dict) -> None:
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        current = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        # DynamoDB refuses to enable TTL twice, so only ask when it is not already on.
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
    pitr = properties.get("PointInTimeRecoverySpecification")
    if pitr and str(pitr.get("PointInTimeRecoveryEnabled")).lower() == "true":
        dynamodb.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def _apply_queue_settings(sqs: Any, queue_url: str, properties: dict) -> None:
    attributes = {
        name: str(properties[name])
        for name in ("VisibilityTimeout", "MessageRetentionPeriod")
        if name in properties
    }
    redrive = properties.get("RedrivePolicy")
    if redrive:
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                "maxReceiveCount": int(redrive["maxReceiveCount"]),
            }
        )
    if attributes:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=attributes)


class _Resolver:
    """Evaluates the few intrinsic functions found in the properties set after a deploy."""

    def __init__(self, aws: LocalAws, parameters: dict[str, str], physical_ids: dict[str, str]):
        self.aws = aws
        self.parameters = parameters
        self.physical_ids = physical_ids

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            name = value["Ref"]
            if name in self.parameters:
                return self.parameters[name]
            return self.physical_ids[name]
        if set(value) == {"Fn::GetAtt"}:
            logical_id, attribute = value["Fn::GetAtt"]
            return self._attribute(logical_id, attribute)
        if len(value) == 1 and next(iter(value)).startswith("Fn::"):
            # Better to stop than to set an unevaluated function as a queue or table setting.
            raise ValueError(f"cannot evaluate {next(iter(value))} locally")
        return {key: self.resolve(item) for key, item in value.items()}

    def _attribute(self, logical_id: str, attribute: str) -> str:
        physical_id = self.physical_ids[logical_id]
        if attribute == "Arn" and physical_id.startswith(("http://", "https://")):
            attributes = self.aws.client("sqs").get_queue_attributes(
                QueueUrl=physical_id, AttributeNames=["QueueArn"]
            )["Attributes"]
            return attributes["QueueArn"]
        raise ValueError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} locally")


def put_secrets(aws: LocalAws, path: str, secrets: dict[str, str]) -> None:
    """Write each secret as the SecureString parameter "{path}/{name}", replacing any old value."""
    ssm = aws.client("ssm")
    prefix = "/" + path.strip("/")
    for name, value in secrets.items():
        ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="SecureString", Overwrite=True)
