"""Neither the stripe SDK's debug logs nor Stripe's own error messages reach logs or answers."""

import json
import logging

import pytest

from chalicelib import wiring
from chalicelib.adapters.stripe_api import StripeApi, make_client
from chalicelib.domain.errors import StripeRejected
from chalicelib.observability import logger
from local.apigw import invoke
from tests.http.conftest import STRIPE_KEY, TOKEN, connect_account

AUTH = {"Authorization": f"Bearer {TOKEN}"}
WRONG_KEY = "sk_test_a_key_that_was_revoked_QZ7W"


@pytest.fixture
def connected(standin):
    return connect_account(standin, "acct_1Logs", "co_logs")


@pytest.fixture
def debug_everywhere(caplog):
    """Every log level at DEBUG: Powertools' (POWERTOOLS_LOG_LEVEL) and the root logger's, as
    Lambda's own log level control sets it."""
    level = logger.log_level
    logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)
    yield caplog
    logger.setLevel(level)


def payment(description: str) -> str:
    return json.dumps(
        {
            "company_id": "co_logs",
            "amount": 700,
            "currency": "usd",
            "invoices": [{"invoice_id": "INV-9", "amount": 700}],
            "description": description,
        }
    )


def test_at_debug_level_no_request_or_oauth_code_is_logged(connected, debug_everywhere, capsys):
    assert invoke("POST", "/payments", payment("body-marker-5c1e"), AUTH).status == 201
    with pytest.raises(StripeRejected):
        wiring.connect_oauth().exchange_code("ac_code_marker_77d0")
    logged = debug_everywhere.text + "".join(capsys.readouterr())
    assert "body-marker-5c1e" not in logged and "ac_code_marker_77d0" not in logged
    assert STRIPE_KEY not in logged  # read from SSM during the request
    sdk_debug = [
        r
        for r in debug_everywhere.records
        if r.name.split(".")[0] in ("stripe", "botocore") and r.levelno < logging.WARNING
    ]
    assert sdk_debug == []
    logger.debug("probe-8e21")
    logging.getLogger("any.library").debug("probe-3b90")
    logged = debug_everywhere.text + "".join(capsys.readouterr())
    assert "probe-8e21" in logged and "probe-3b90" in logged  # DEBUG was indeed on


def test_stripes_own_message_never_reaches_an_answer_or_a_log(
    connected, standin, monkeypatch, debug_everywhere, capsys
):
    # Stripe's message for a wrong key quotes it masked: "Invalid API Key provided: sk_…QZ7W".
    monkeypatch.setattr(
        wiring, "stripe_api", lambda: StripeApi(make_client(WRONG_KEY, api_base=standin.url))
    )
    answer = invoke("POST", "/payments", payment("x"), AUTH)
    assert (answer.status, answer.body["error"]["code"]) == (502, "stripe_rejected")
    assert "AuthenticationError" in answer.body["error"]["message"]  # what went wrong, in kind
    logged = debug_everywhere.text + "".join(capsys.readouterr())
    for seen in (json.dumps(answer.body), logged):
        assert "QZ7W" not in seen and "Invalid API Key" not in seen
