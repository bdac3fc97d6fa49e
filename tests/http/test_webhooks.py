"""The public webhook door, through the API as API Gateway calls it, with real signatures."""

import hashlib
import hmac
import json
import time

import pytest

from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.webhooks import MAX_BODY_BYTES
from local.apigw import invoke
from tests.http.conftest import OLD_SECRET, SECRET, signed, stripe_event

ACCOUNT_SECRET = "whsec_account_secret_0123456789abcdef"


def post(body: str | bytes, signature: str | None, path="/webhooks/stripe", **headers):
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return invoke("POST", path, body, headers)


def test_a_genuine_event_is_queued_with_its_routing_attributes(queue):
    body = json.dumps(stripe_event())
    answer = post(body, signed(body))
    assert (answer.status, answer.body) == (200, {"received": True, "outcome": "queued"})
    [message] = queue()
    assert message["Body"] == body  # the exact bytes Stripe signed
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "event_id": "evt_1Pgc76B7WZ01zgkWwyRHS12y",
        "event_type": "payment_intent.succeeded",
        "account": "acct_1Connected",
        "livemode": "false",
    }


def test_the_header_is_read_whatever_its_case(queue):
    body = json.dumps(stripe_event())
    assert (
        invoke("POST", "/webhooks/stripe", body, {"STRIPE-SIGNATURE": signed(body)}).status == 200
    )
    assert len(queue()) == 1


def test_any_matching_v1_signature_and_any_live_secret_is_enough(queue):
    body = json.dumps(stripe_event())
    good = signed(body).split(",v1=")[1]
    several = f"t={int(time.time())},v1={'0' * 64},v0=abc,v1={good}"
    assert post(body, several).status == 200
    assert post(body, signed(body, OLD_SECRET)).status == 200  # a secret being rolled
    assert len(queue()) == 2


def test_a_body_sent_base64_encoded_by_api_gateway_verifies(queue):
    body = json.dumps(stripe_event(), ensure_ascii=False).replace("usd", "usd  ") + " \n"
    answer = invoke(
        "POST",
        "/webhooks/stripe",
        body.encode(),
        {"Stripe-Signature": signed(body)},
        base64_encoded=True,
    )
    assert answer.status == 200
    assert queue()[0]["Body"] == body


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing_signature"),
        ("", "missing_signature"),
        ("garbage", "bad_signature"),
        ("t=1,v1=00", "bad_signature"),
    ],
)
def test_missing_or_bad_signatures_are_refused(queue, signature, reason):
    body = json.dumps(stripe_event())
    answer = post(body, signature)
    assert (answer.status, answer.body["error"]["code"]) == (400, reason)
    assert queue() == []


def test_a_signature_dated_in_the_future_is_refused(queue):
    body = json.dumps(stripe_event())
    now = int(time.time())
    # Beyond the 300 s tolerance by a margin that a slow second between here and the check
    # can't eat.
    assert post(body, signed(body, timestamp=now + 330)).body["error"]["code"] == "bad_signature"
    assert post(body, signed(body, timestamp=now + 86_400 * 365)).status == 400
    # A second, far-future t= beside a good one is refused too, whichever one is read.
    assert post(body, f"{signed(body)},t={now + 10**9}").status == 400
    assert queue() == []
    assert post(body, signed(body, timestamp=now + 60)).status == 200  # clocks drift a little
    assert len(queue()) == 1


def test_a_connect_event_without_an_account_is_refused_at_the_door(queue, capsys):
    event = stripe_event()
    del event["account"]
    body = json.dumps(event)
    answer = post(body, signed(body))
    assert (answer.status, answer.body["error"]["code"]) == (400, "missing_account")
    assert '"WebhookRejectedAccount"' in capsys.readouterr().out
    assert queue() == []


def _signed_bytes(body: bytes, secret: str = SECRET) -> str:
    timestamp = int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 70 + b"1" + b"}" * 70,
        b'{"object": "event", "id": "evt_1", "id": "evt_2"}',
        b'{"object": "event", "amount": NaN}',
        b'{"object": "event", "amount": 1e999}',
        b'{"object": "event", "amount": ' + b"9" * 5000 + b"}",
        b'{"object": "event", "name": "\\ud800"}',
        b"\xff\xfe{}",
        b'{"object": "event", "name": "caf\xe9"}',
    ],
    ids=[
        "deep",
        "deep-objects",
        "duplicate",
        "nan",
        "huge-float",
        "huge-int",
        "surrogate",
        "utf16-bom",
        "latin1",
    ],
)
def test_hostile_json_even_well_signed_is_a_400(queue, body):
    answer = invoke(
        "POST",
        "/webhooks/stripe",
        body,
        {"Stripe-Signature": _signed_bytes(body)},
        base64_encoded=True,
    )
    assert (answer.status, answer.body["error"]["code"]) == (400, "not_json")
    assert queue() == []


def test_a_signature_from_another_secret_or_too_old_is_refused(queue):
    body = json.dumps(stripe_event())
    assert post(body, signed(body, "whsec_someone_else_0123456789")).status == 400
    assert post(body, signed(body, timestamp=int(time.time()) - 301)).status == 400
    tampered = body.replace("1099", "9999")
    assert post(tampered, signed(body)).status == 400
    assert queue() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "not_json"),
        ("[1, 2]", "not_json"),
        (
            json.dumps({"object": "v2.core.event", "id": "evt_thin", "type": "x"}),
            "unsupported_event",
        ),
        (
            json.dumps({"object": "event", "id": "pi_1", "type": "x", "livemode": False}),
            "malformed_event",
        ),
        ("x" * (MAX_BODY_BYTES + 1), "body_too_large"),
    ],
)
def test_well_signed_nonsense_is_refused(queue, body, reason):
    answer = post(body, signed(body))
    assert (answer.status, answer.body["error"]["code"]) == (400, reason)
    assert queue() == []


def test_bytes_that_are_not_utf8_are_refused(queue):
    answer = invoke(
        "POST",
        "/webhooks/stripe",
        b"\xff\xfe{}",
        {"Stripe-Signature": "t=1,v1=0"},
        base64_encoded=True,
    )
    assert answer.status == 400
    assert queue() == []


def test_unhandled_types_and_the_other_mode_are_acknowledged_not_queued(queue):
    for event, outcome in [
        (stripe_event("plan.created"), "ignored_type"),
        (stripe_event(livemode=True), "ignored_mode"),
    ]:
        body = json.dumps(event)
        answer = post(body, signed(body))
        assert (answer.status, answer.body["outcome"]) == (200, outcome)
    assert queue() == []


def test_a_queue_that_refuses_the_event_makes_stripe_retry(queue, monkeypatch, capsys):
    monkeypatch.setenv("EVENTS_QUEUE_URL", "http://127.0.0.1:1/000000000000/nowhere")
    body = json.dumps(stripe_event())
    answer = post(body, signed(body))
    assert answer.status == 503
    assert "evt_1Pgc76B7WZ01zgkWwyRHS12y" in capsys.readouterr().out  # logged with the event id
    assert queue() == []


def test_outcomes_are_counted_and_logs_hold_neither_bodies_nor_secrets(queue, capsys):
    body = json.dumps(stripe_event())
    post(body, signed(body))
    post(body, signed(body, "whsec_wrong_0123456789abcdef"))
    post(json.dumps(stripe_event("plan.created")), signed(json.dumps(stripe_event("plan.created"))))
    out = capsys.readouterr().out
    for metric in ("WebhookQueued", "WebhookRejectedSignature", "WebhookIgnoredType"):
        assert f'"{metric}"' in out
    assert SECRET not in out and "1099" not in out and "pi_1PgafyB7WZ01zgkWSjxsAJo3" not in out


# --- an account's dedicated URL ------------------------------------------------------------


@pytest.fixture
def account(aws, outputs):
    from chalicelib import wiring

    connected = ConnectedAccount(
        "acct_1Dedicated",
        "co_dedicated",
        False,
        "2026-11-29T00:00:00Z",
        webhook_secrets=(ACCOUNT_SECRET,),
    )
    wiring.account_store().put(connected)
    return connected


def test_the_dedicated_url_takes_events_signed_with_the_accounts_secret(queue, account):
    event = stripe_event()
    del event["account"]  # an account's own endpoint does not name it
    body = json.dumps(event)
    answer = post(body, signed(body, ACCOUNT_SECRET), path="/webhooks/stripe/acct_1Dedicated")
    assert answer.status == 200
    [message] = queue()
    assert message["MessageAttributes"]["account"]["StringValue"] == "acct_1Dedicated"


def test_the_dedicated_url_refuses_the_platform_secret_and_other_accounts(queue, account):
    body = json.dumps(stripe_event())
    path = "/webhooks/stripe/acct_1Dedicated"
    assert post(body, signed(body), path=path).body["error"]["code"] == "bad_signature"
    other = json.dumps(stripe_event(account="acct_1Someoneelse"))
    answer = post(other, signed(other, ACCOUNT_SECRET), path=path)
    assert (answer.status, answer.body["error"]["code"]) == (400, "account_mismatch")
    assert queue() == []


def _store(account: ConnectedAccount) -> ConnectedAccount:
    from chalicelib import wiring

    wiring.account_store().put(account)
    return account


def test_before_a_signature_verifies_the_dedicated_url_tells_nothing_about_the_account(
    queue, account
):
    _store(ConnectedAccount("acct_1Nosecret", "co_nosecret", False, "2026-11-29T00:00:00Z"))
    _store(
        ConnectedAccount(
            "acct_1Gone",
            "co_gone",
            False,
            "2026-11-29T00:00:00Z",
            status=AccountStatus.DISCONNECTED,
            webhook_secrets=(ACCOUNT_SECRET,),
        )
    )
    body = json.dumps(stripe_event(account=None))
    now = int(time.time())
    attempts = {
        "no signature": None,
        "garbage": "garbage",
        "the platform's secret": signed(body),
        "a guessed secret": signed(body, "whsec_guessed_0123456789abcdef"),
        "a zero signature": f"t={now},v1={'0' * 64}",
    }
    for name, signature in attempts.items():
        answers = {
            account_id: post(body, signature, path=f"/webhooks/stripe/{account_id}")
            for account_id in (
                "acct_1Dedicated",  # connected, with a secret
                "acct_1Unknown",
                "acct_1Nosecret",
                "acct_1Gone",
                "not-an-account",
                "acct_1Dedicated\n",
                "acct_" + "x" * 300,
            )
        }
        seen = {(a.status, json.dumps(a.body), json.dumps(a.headers)) for a in answers.values()}
        assert len(seen) == 1, (name, answers)
        [(status, answer_body, _)] = seen
        assert status == 400
        assert json.loads(answer_body)["error"]["code"] in ("missing_signature", "bad_signature")
    assert queue() == []


def test_an_account_id_that_only_starts_like_one_is_refused(queue, account):
    body = json.dumps(stripe_event(account=None))
    for near_miss in ("acct_1Dedicated\n", "acct_1Dedicated\r\n", "acct_1Dedicated ", "xacct_1"):
        answer = post(body, signed(body, ACCOUNT_SECRET), path=f"/webhooks/stripe/{near_miss}")
        assert (answer.status, answer.body["error"]["code"]) == (400, "bad_signature")
    assert queue() == []


def test_a_disconnected_account_is_refused(queue, account):
    from chalicelib import wiring

    wiring.account_store().put(
        ConnectedAccount(**{**account.__dict__, "status": AccountStatus.DISCONNECTED})
    )
    body = json.dumps(stripe_event(account="acct_1Dedicated"))
    answer = post(body, signed(body, ACCOUNT_SECRET), path="/webhooks/stripe/acct_1Dedicated")
    assert (answer.status, answer.body["error"]["code"]) == (400, "disconnected_account")
    assert queue() == []


def test_an_account_pending_authorisation_is_acknowledged_and_nothing_is_queued(queue, account):
    from dataclasses import replace

    pending = replace(account, status=AccountStatus.PENDING_AUTHORIZATION, connected_at=None)
    _store(replace(pending, imported_at="2026-11-20T09:00:00.000+00:00"))
    body = json.dumps(stripe_event(account="acct_1Dedicated"))
    answer = post(body, signed(body, ACCOUNT_SECRET), path="/webhooks/stripe/acct_1Dedicated")
    assert (answer.status, answer.body) == (200, {"received": True, "outcome": "ignored_pending"})
    assert queue() == []
    # Until a signature verifies it answers as for any account.
    assert post(body, signed(body), path="/webhooks/stripe/acct_1Dedicated").status == 400
