"""Whatever anyone throws at the webhook, nothing unverified is queued and nothing is a 5xx."""

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.webhooks import Verdict, decide, envelope_of
from local.apigw import invoke
from tests.http.conftest import SECRET, signed, stripe_event

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
bodies = st.one_of(
    st.binary(max_size=4096),
    st.text(max_size=4096).map(str.encode),
    st.just(json.dumps(stripe_event()).encode()),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
)
paths = st.sampled_from(
    [
        "/webhooks/stripe",
        "/webhooks/stripe/acct_1Unknown",
        "/webhooks/stripe/%00",
        "/webhooks/stripe/acct_1Dedicated",
    ]
)


@FUZZ
@given(
    path=paths,
    body=bodies,
    headers=st.dictionaries(header_names, header_values, max_size=3),
    base64_encoded=st.booleans(),
)
def test_unverifiable_requests_never_queue_and_never_fail(
    queue, path, body, headers, base64_encoded
):
    answer = invoke("POST", path, body, headers, base64_encoded=base64_encoded)
    assert answer.status < 500, answer
    assert answer.status != 200 or path == "/webhooks/stripe"
    assert queue() == []


@FUZZ
@given(body=bodies, age=st.integers(min_value=-60, max_value=290))
def test_signed_bodies_are_queued_only_when_they_are_handled_events(queue, body, age):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return
    header = signed(text, SECRET, timestamp=int(time.time()) - age)
    answer = invoke(
        "POST", "/webhooks/stripe", body, {"Stripe-Signature": header}, base64_encoded=True
    )
    assert answer.status < 500, answer
    assert len(queue()) == (1 if _is_handled_event(text) else 0)


def _is_handled_event(text: str) -> bool:
    try:
        event = json.loads(text)
        return (
            isinstance(event, dict)
            and event.get("object") == "event"
            and decide(envelope_of(event), stage_livemode=False) is Verdict.QUEUE
        )
    except (ValueError, InvalidInput):
        return False
