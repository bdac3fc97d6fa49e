"""Hypothesis strategies for what an attacker may send any route: bytes, JSON and worse."""

import json

from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def _nested(depth: int, opener: str) -> bytes:
    inner = "[" * depth + "]" * depth if opener == "[" else '{"a":' * depth + "1" + "}" * depth
    return inner.encode()


# Texts json.dumps cannot make: what a hand-written request can still hold.
hostile_json = st.one_of(
    st.builds(_nested, st.integers(min_value=60, max_value=200_000), st.sampled_from("[{")),
    st.builds(
        lambda key, a, b: (
            json.dumps({key: a})[:-1].encode() + b", " + json.dumps({key: b})[1:].encode()
        ),
        st.sampled_from(["company_id", "amount", "id", "signing_secrets", "email"]),
        json_values,
        json_values,
    ),
    st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400"]).map(
        lambda number: b'{"amount": ' + number + b"}"
    ),
    st.integers(min_value=4301, max_value=20_000).map(lambda n: b'{"amount": ' + b"9" * n + b"}"),
    st.integers(min_value=0xD800, max_value=0xDFFF).map(
        lambda code: b'{"description": "\\u' + f"{code:04x}".encode() + b'"}'
    ),
)
# Bytes that are not UTF-8 (API Gateway hands them over base64-encoded).
not_utf8 = st.one_of(
    st.binary(min_size=1, max_size=512).filter(lambda b: not _is_utf8(b)),
    st.sampled_from([b"\xff\xfe{}", b'{"a": "caf\xe9"}', b"\xed\xa0\x80", b"\xc0\xaf"]),
)
bodies = st.one_of(
    st.binary(max_size=4096),
    st.text(max_size=4096).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    hostile_json,
    not_utf8,
)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def is_error_shape(answer) -> bool:
    """The service's JSON error: {"error": {"code", "message", ...}}."""
    error = answer.body.get("error") if isinstance(answer.body, dict) else None
    return (
        answer.headers.get("Content-Type") == "application/json"
        and isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
    )
