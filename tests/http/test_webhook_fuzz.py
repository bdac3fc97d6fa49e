"""Whatever anyone throws at the webhook, nothing unverified is queued and nothing is a 5xx."""

import hashlib
import hmac
import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.webhooks import Verdict, decide, envelope_of
from local.apigw import invoke
from tests.http.conftest import SECRET, stripe_event
from tests.http.strategies import bodies, hostile_json, is_error_shape, not_utf8

EXAMPLES = 300
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

header_names = st.sampled_from(
    ["Stripe-Signature", "stripe-signature", "STRIPE-SIGNATURE", "Content-Type", "X-Anything"]
)
signature_like = st.builds(
    lambda t, parts: f"t={t}," + ",".join(parts),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.lists(
        st.builds(
            lambda scheme, value: f"{scheme}={value}",
            st.sampled_from(["v1", "v0", "t", "", "v2"]),
            st.text(alphabet="0123456789abcdef=,", max_size=70),
        ),
        max_size=4,
    ),
)
header_values = st.one_of(st.text(max_size=200), signature_like)
webhook_bodies = st.one_of(bodies, st.just(json.dumps(stripe_event()).encode()))
paths = st.sampled_from(
    [
        "/webhooks/stripe",
        "/webhooks/stripe/acct_1Unknown",
        "/webhooks/stripe/%00",
        "/webhooks/stripe/acct_1Dedicated",
        "/webhooks/stripe/acct_1Dedicated\n",
    ]
)


def signed_bytes(body: bytes, secret: str, timestamp: int) -> str:
    """Stripe's v1 signature over any bytes, UTF-8 or not (its SDK signs text only)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@FUZZ
@given(
    path=paths,
    body=webhook_bodies,
    headers=st.dictionaries(header_names, header_values, max_size=3),
    base64_encoded=st.booleans(),
)
def test_unverifiable_requests_never_queue_and_never_fail(
    queue, path, body, headers, base64_encoded
):
    answer = invoke("POST", path, body, headers, base64_encoded=base64_encoded)
    assert answer.status < 500, answer
    assert answer.status != 200 or path == "/webhooks/stripe"
    if answer.status >= 400:
        assert is_error_shape(answer), answer
    assert queue() == []


@FUZZ
@given(
    body=st.one_of(webhook_bodies, hostile_json, not_utf8),
    age=st.integers(min_value=-290, max_value=290),
)
def test_signed_bodies_are_queued_only_when_they_are_handled_events(queue, body, age):
    header = signed_bytes(body, SECRET, int(time.time()) - age)
    answer = invoke(
        "POST", "/webhooks/stripe", body, {"Stripe-Signature": header}, base64_encoded=True
    )
    assert answer.status < 500, answer
    handled = _is_handled_event(body)
    assert answer.status == (200 if handled or _is_other_event(body) else 400), answer
    if answer.status == 400:
        assert is_error_shape(answer), answer
    assert len(queue()) == (1 if handled else 0)


@FUZZ
@given(body=st.one_of(webhook_bodies, not_utf8), ahead=st.integers(301, 10**9))
def test_signatures_dated_ahead_of_the_tolerance_are_refused(queue, body, ahead):
    header = signed_bytes(body, SECRET, int(time.time()) + ahead)
    answer = invoke(
        "POST", "/webhooks/stripe", body, {"Stripe-Signature": header}, base64_encoded=True
    )
    assert answer.status == 400 and is_error_shape(answer), answer
    assert queue() == []


def _event(raw: bytes):
    try:
        event = json.loads(raw.decode("utf-8"))
        if not isinstance(event, dict) or event.get("object") != "event":
            return None
        return envelope_of(event)
    except (ValueError, RecursionError, InvalidInput):
        return None


def _is_handled_event(raw: bytes) -> bool:
    envelope = _event(raw)
    return (
        envelope is not None
        and envelope.account is not None
        and decide(envelope, stage_livemode=False) is Verdict.QUEUE
    )


def _is_other_event(raw: bytes) -> bool:
    envelope = _event(raw)
    return (
        envelope is not None
        and envelope.account is not None
        and decide(envelope, stage_livemode=False) is not Verdict.QUEUE
    )
