"""Whatever anyone sends the platform API, signed in or not: a clear 4xx, never a 5xx."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import wiring
from chalicelib.domain.accounts import ConnectedAccount
from local.apigw import invoke
from tests.http.conftest import TOKEN
from tests.http.strategies import bodies, is_error_shape

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Each platform route with the methods API Gateway could hand it; {} is an id.
ROUTES = [
    ("/payments", ["POST", "GET"]),
    ("/payments/{}", ["GET", "POST"]),
    ("/payments/{}/sync", ["POST"]),
    ("/payment-methods/{}/{}", ["GET"]),
    ("/accounts/{}/webhook", ["GET", "PUT", "DELETE"]),
    ("/companies/{}/connect-links", ["POST"]),
    ("/companies/{}/accounts", ["GET"]),
    ("/companies/{}/accounts/{}", ["DELETE"]),
]
ids = st.one_of(
    st.sampled_from(["acct_1Fuzz", "co_fuzz", "pay_1", "ba_1", "acct_1Fuzz\n", "co_fuzz\n"]),
    st.text(alphabet=st.characters(exclude_characters="/"), min_size=1, max_size=80),
)
requests = st.builds(
    lambda route, pick, values: (pick(route[1]), route[0].format(*values)),
    st.sampled_from(ROUTES),
    st.builds(lambda i: lambda methods: methods[i % len(methods)], st.integers(0, 2)),
    st.lists(ids, min_size=2, max_size=2),
)
authorization = st.one_of(
    st.just({"Authorization": f"Bearer {TOKEN}"}),
    st.just({}),
    st.text(max_size=60).map(lambda value: {"Authorization": value}),
)
content_types = st.sampled_from(
    [{}, {"content-type": "text/plain"}, {"content-type": "application/json; charset=latin-1"}]
)


@FUZZ
@given(
    request=requests,
    body=bodies,
    auth=authorization,
    content_type=content_types,
    base64_encoded=st.booleans(),
)
def test_nothing_sent_to_the_platform_api_is_a_5xx(
    request, body, auth, content_type, base64_encoded
):
    # A real account for the account routes; its company is never drawn, so no example
    # disconnects it at Stripe (a Stripe refusal there is a 502 by design, not bad input).
    wiring.account_store().put(
        ConnectedAccount("acct_1Fuzz", "co_seeded", False, "2026-11-29T00:00Z")
    )
    method, path = request
    answer = invoke(method, path, body, {**auth, **content_type}, base64_encoded=base64_encoded)
    assert answer.status < 500, (method, path, answer)
    if answer.status >= 400:
        assert is_error_shape(answer), answer
    if auth.get("Authorization") != f"Bearer {TOKEN}" and answer.status not in (405, 415):
        assert answer.status == 401, answer
