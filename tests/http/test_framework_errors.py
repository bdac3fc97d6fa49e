"""Answers Chalice makes itself (415, 405, unknown routes, a crash) speak the service shape."""

import json

import pytest

from chalicelib import wiring
from local.apigw import invoke
from tests.http.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def error_of(answer) -> dict:
    assert answer.headers["Content-Type"] == "application/json"
    assert set(answer.body) == {"error"}, answer.body
    assert set(answer.body["error"]) >= {"code", "message"}
    return answer.body["error"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/payments", AUTH), ("/webhooks/stripe", {}), ("/companies/co_1/connect-links", AUTH)],
)
def test_a_body_of_another_media_type_is_a_415_in_the_service_shape(path, headers):
    answer = invoke("POST", path, "amount=1", {**headers, "content-type": "text/plain"})
    assert answer.status == 415
    assert error_of(answer)["code"] == "unsupported_media_type"


def test_a_method_the_route_does_not_take_is_a_405_in_the_service_shape():
    answer = invoke("GET", "/webhooks/stripe", None, {})
    assert answer.status == 405
    assert error_of(answer)["code"] == "method_not_allowed"
    assert answer.headers["Allow"] == "POST"


@pytest.mark.parametrize("resource", ["/{proxy+}", "/admin", ""])
def test_a_route_the_app_does_not_know_is_a_404_in_the_service_shape(resource):
    answer = invoke("GET", "/admin", None, AUTH, resource=resource)
    assert answer.status == 404
    assert error_of(answer)["code"] == "not_found"


def test_a_crash_is_a_500_in_the_service_shape_without_a_trace(monkeypatch):
    def broken():
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(wiring, "payments_service", broken)
    answer = invoke("GET", "/payments/pay_1", None, AUTH)
    assert answer.status == 500
    assert error_of(answer)["code"] == "internal_error"
    assert "internal detail" not in json.dumps(answer.body)
