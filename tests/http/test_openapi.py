"""openapi.yaml describes the API app.py serves: a valid OpenAPI 3.1 document, every route and
method of the app in it, nothing in it the app does not serve. (That every answer the tests get
matches it is checked on each call: tests/http/conftest.py.)"""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

import app as service
from local.apigw import invoke
from tests.http.conftest import TOKEN
from tests.openapi_contract import (
    document,
    documented_operations,
    lambda_answer_problems,
    missing_operations,
    problems,
)


def test_the_document_is_valid_openapi_3_1():
    assert document()["openapi"].startswith("3.1")
    validate(document())


def test_every_route_and_method_of_the_app_is_in_the_document():
    missing = missing_operations(service.app.routes)
    assert not missing, "openapi.yaml lacks these routes of app.py: " + "; ".join(missing)


def test_the_document_names_no_route_the_app_does_not_serve():
    served = {(path, method) for path, entries in service.app.routes.items() for method in entries}
    stale = sorted(f"{m} {p}" for p, m in documented_operations() - served)
    assert not stale, "openapi.yaml describes routes app.py does not serve: " + "; ".join(stale)


def test_a_missing_route_is_named_with_its_method():
    routes = {**service.app.routes, "/companies/{company_id}/not-served": {"PUT": None}}
    assert missing_operations(routes) == ["PUT /companies/{company_id}/not-served"]


@pytest.mark.parametrize(
    ("status", "body", "wrong"),
    [
        (200, {"payment_id": "pay_1"}, "is a required property"),
        (418, {"error": {"code": "teapot", "message": "x"}}, None),
    ],
)
def test_an_answer_the_document_does_not_describe_is_reported(status, body, wrong):
    found = problems(
        "/payments/{payment_id}",
        "GET",
        status,
        {"Content-Type": "application/json"},
        json.dumps(body),
    )
    if wrong:
        assert any(wrong in problem for problem in found), found
    else:
        assert found == []  # the default response: the error shape


def test_an_undocumented_field_in_a_real_answer_is_reported():
    answer = invoke("GET", "/payments/pay_missing", None, {"Authorization": f"Bearer {TOKEN}"})
    assert answer.status == 404
    event = {"requestContext": {"resourcePath": "/payments/{payment_id}", "httpMethod": "GET"}}
    extra = {"error": {**answer.body["error"], "trace": "…"}}
    found = lambda_answer_problems(
        event, {"statusCode": 404, "headers": answer.headers, "body": json.dumps(extra)}
    )
    assert found and "'trace' was unexpected" in found[0]
