"""Strict JSON: what every JSON reader agrees on is read as json does; the rest is refused."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.json_input import MAX_DEPTH, parse_json

plain_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(value=plain_json, ensure_ascii=st.booleans())
def test_plain_json_reads_as_json_reads_it(value, ensure_ascii):
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    assert parse_json(text.encode()) == json.loads(text)


@given(depth=st.integers(min_value=MAX_DEPTH + 1, max_value=300_000), kind=st.sampled_from("[{"))
def test_nesting_deeper_than_the_limit_is_refused(depth, kind):
    text = "[" * depth + "]" * depth if kind == "[" else '{"a":' * depth + "0" + "}" * depth
    with pytest.raises(ValueError):
        parse_json(text.encode())


@given(code=st.integers(min_value=0xD800, max_value=0xDFFF), where=st.sampled_from(["k", "v"]))
def test_a_lone_surrogate_is_refused_in_keys_and_values(code, where):
    escaped = f'"\\u{code:04x}"'
    text = f"{{{escaped}: 1}}" if where == "k" else f'{{"a": [{escaped}]}}'
    with pytest.raises(ValueError):
        parse_json(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '[{"x": {"b": 1, "b": 1}}]',
        "NaN",
        '{"a": Infinity}',
        "[-Infinity]",
        "1e400",
        "9" * 5000,
    ],
)
def test_what_readers_disagree_on_is_refused(text):
    with pytest.raises(ValueError):
        parse_json(text)


def test_bytes_that_are_not_utf8_are_refused():
    for raw in (b"\xff", b'"caf\xe9"', b"\xed\xa0\x80"):
        with pytest.raises(ValueError):
            parse_json(raw)


def test_a_surrogate_pair_is_a_character_not_a_lone_surrogate():
    assert parse_json('"\\ud83d\\ude00"') == "\U0001f600"
