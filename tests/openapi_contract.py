"""The platform API's OpenAPI 3.1 document (openapi.yaml), and the check of one real answer
against it: its route and method are described, its status is one the operation lists, and its
body matches that response's schema (JSON Schema 2020-12, as OpenAPI 3.1 says)."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi.yaml"
_URI = "urn:stripe-bridge:openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text())


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    return Registry().with_resource(_URI, resource)


def documented_operations() -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in document()["paths"].items()
        for method in METHODS
        if method in item
    }


def missing_operations(routes: dict[str, Any]) -> list[str]:
    """`METHOD /path` of every route of the app (Chalice's routes) the document lacks."""
    documented = documented_operations()
    return sorted(
        f"{method} {path}"
        for path, entries in routes.items()
        for method in entries
        if (path, method) not in documented
    )


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _resolved(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _registry().resolver(_URI).lookup(node["$ref"]).contents
    return node


def problems(
    path: str, method: str, status: int, headers: dict[str, str], body: str | None
) -> list[str]:
    """What in this answer the document does not describe (empty: all of it is)."""
    where = f"{method} {path} answered {status}"
    item = document()["paths"].get(path)
    if item is None or method.lower() not in item:
        return [f"{method} {path} is not in openapi.yaml: add it under paths"]
    responses = item[method.lower()]["responses"]
    key = str(status) if str(status) in responses else "default" if "default" in responses else None
    if key is None:
        return [f"{where}, a status openapi.yaml does not list for it ({', '.join(responses)})"]
    response = _resolved(responses[key])
    content = response.get("content")
    if not content:
        return [] if not body else [f"{where} with a body; openapi.yaml describes none"]
    lowered = {k.lower(): v for k, v in headers.items()}
    # A proxy answer without Content-Type (Chalice's Response with a dict body sets none)
    # leaves API Gateway with its default, application/json.
    media = (lowered.get("content-type") or "application/json").split(";")[0].strip()
    if media not in content:
        return [f"{where} as {media!r}; openapi.yaml says {', '.join(content)}"]
    if media != "application/json":
        return []
    try:
        value = json.loads(body or "null")
    except ValueError:
        return [f"{where} with a body that is not JSON: {body[:200] if body else body!r}"]
    if "$ref" in responses[key]:
        response_at = responses[key]["$ref"]
    else:
        response_at = _pointer("paths", path, method.lower(), "responses", key)
    schema = {"$ref": f"{_URI}{response_at}/content/application~1json/schema"}
    validator = Draft202012Validator(schema, registry=_registry())
    return [
        f"{where}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator.iter_errors(value)
    ]


def lambda_answer_problems(event: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """The same, for an API Gateway proxy event and what the Lambda handler returned."""
    context = event.get("requestContext") or {}
    path, method = context.get("resourcePath"), context.get("httpMethod")
    if not path or not method:
        return []
    body = answer.get("body")
    if body and answer.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return problems(path, method, int(answer["statusCode"]), answer.get("headers") or {}, body)
