"""Calls the Chalice app as API Gateway's proxy integration calls the Lambda, in-process.

Unlike chalice.test.Client, this leaves the process environment alone, so a test decides
where the app's AWS and Stripe point.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

import app as service


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def invoke(
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    *,
    base64_encoded: bool = False,
    resource: str | None = None,
) -> Answer:
    """resource, when given, is what API Gateway matched (one the app may not declare)."""
    if resource is None:
        resource, parameters = _route(path)
    else:
        parameters = {}
    raw = body.encode() if isinstance(body, str) else body
    event = {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None
        if raw is None
        else (base64.b64encode(raw).decode() if base64_encoded else raw.decode("utf-8", "replace")),
        "isBase64Encoded": base64_encoded,
    }
    response = service.app(event, _Context())
    text = response.get("body") or ""
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return Answer(response["statusCode"], response.get("headers") or {}, parsed)


def _route(path: str) -> tuple[str, dict[str, str]]:
    parts = path.strip("/").split("/")
    for resource in service.app.routes:
        pattern = resource.strip("/").split("/")
        if len(pattern) != len(parts):
            continue
        parameters = {}
        for expected, actual in zip(pattern, parts, strict=True):
            if expected.startswith("{"):
                parameters[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            return resource, parameters
    raise AssertionError(f"no route for {path}")


class _Context:
    function_name = "stripe-bridge-test-api_handler"
    aws_request_id = "local"
    memory_limit_in_mb = "512"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    log_group_name = log_stream_name = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 15_000
