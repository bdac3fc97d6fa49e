"""Validation of the platform's request to start a payment."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.payment_requests import parse_id, parse_start_payment


def body(**changes):
    return {
        "company_id": "co_1",
        "amount": 1500,
        "currency": "EUR",
        "invoices": [
            {"invoice_id": "inv-1", "amount": 1000},
            {"invoice_id": "inv-2", "amount": 500},
        ],
        **changes,
    }


def test_a_valid_request_is_normalised():
    request = parse_start_payment(body())
    assert request.currency == "eur"
    assert [(i.invoice_id, i.amount) for i in request.invoices] == [("inv-1", 1000), ("inv-2", 500)]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": "1500"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"currency": "euro"}, "currency"),
        ({"company_id": ""}, "company_id"),
        ({"company_id": "a b"}, "company_id"),
        ({"invoices": []}, "invoices"),
        ({"invoices": [{"invoice_id": "i", "amount": 1500, "x": 1}]}, "invoices[0]"),
        ({"invoices": [{"invoice_id": "i;1", "amount": 1500}]}, "invoices[0].invoice_id"),
        ({"invoices": [{"invoice_id": "i", "amount": -1}]}, "invoices[0].amount"),
        ({"invoices": [{"invoice_id": "i", "amount": 1400}]}, "invoices"),
        (
            {"invoices": [{"invoice_id": "i", "amount": 750}, {"invoice_id": "i", "amount": 750}]},
            "invoices",
        ),
        ({"surprise": 1}, "surprise"),
        ({"description": 5}, "description"),
    ],
)
def test_a_wrong_field_is_named(changes, field):
    with pytest.raises(InvalidInput) as raised:
        parse_start_payment(body(**changes))
    assert raised.value.field == field


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidInput) as raised:
        parse_start_payment(["not", "an", "object"])
    assert raised.value.field == "body"


ID_CHARACTERS = "abcXYZ019_.:-"


@given(
    valid=st.text(alphabet=ID_CHARACTERS, min_size=1, max_size=63).map(lambda s: "a" + s[:63]),
    tail=st.sampled_from(["\n", "\r\n", " ", "\x00", "\t", "/", "\u2028"]),
    before=st.booleans(),
)
def test_an_id_is_taken_only_when_all_of_it_is_an_id(valid, tail, before):
    assert parse_id(valid, "company_id") == valid
    near_miss = tail + valid if before else valid + tail
    with pytest.raises(InvalidInput) as refused:
        parse_id(near_miss, "company_id")
    assert refused.value.field == "company_id"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"company_id": "co_victim\n"}, "company_id"),
        ({"currency": "eur\n"}, "currency"),
        ({"invoices": [{"invoice_id": "inv-1\n", "amount": 1500}]}, "invoices[0].invoice_id"),
    ],
)
def test_a_trailing_newline_is_not_part_of_an_id(changes, field):
    with pytest.raises(InvalidInput) as refused:
        parse_start_payment(body(**changes))
    assert refused.value.field == field
