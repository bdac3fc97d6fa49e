"""Signed metadata: only what the service signed describes a payment, and reading never raises."""

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.metadata import (
    NotOurs,
    SigningKeys,
    claimed_payment,
    payment_metadata,
    rebuilt,
    settled_by,
    signed_payment,
)
from chalicelib.domain.payments import InvoiceLine, Payment

KEYS = SigningKeys.parse("unit-metadata-key-0123456789abcdef unit-old-metadata-key-0123456789")
ACCOUNT = ConnectedAccount("acct_1", "co_1", False, "2026-01-01")
PAYMENT = Payment(
    "pay_1",
    "co_1",
    "acct_1",
    1500,
    "usd",
    (InvoiceLine("INV-1", 1000), InvoiceLine("INV-2", 500)),
    "2026-11-29T00:00:00.000+00:00",
)


def intent(payment=PAYMENT, metadata=None, **fields):
    metadata = payment_metadata(payment, KEYS) if metadata is None else metadata
    return {
        "id": "pi_1",
        "amount": payment.amount,
        "currency": payment.currency,
        "metadata": metadata,
        **fields,
    }


def test_a_payment_with_many_invoices_round_trips_within_stripes_limits():
    invoices = tuple(InvoiceLine(f"invoice-{i:04d}-{'x' * 40}", 100 + i) for i in range(100))
    payment = replace(PAYMENT, amount=sum(i.amount for i in invoices), invoices=invoices)
    metadata = payment_metadata(payment, KEYS)
    assert len(metadata) <= 50 and all(len(k) <= 40 for k in metadata)
    assert all(len(v) <= 500 for v in metadata.values())
    assert signed_payment(metadata, KEYS) == payment
    assert rebuilt(payment, payment_intent_id="pi_1").payment_intent_id == "pi_1"


def test_metadata_signed_with_an_older_key_verifies_and_new_metadata_uses_the_newest():
    old_only = SigningKeys(KEYS.keys[1:])
    assert signed_payment(payment_metadata(PAYMENT, old_only), KEYS) == PAYMENT
    assert isinstance(signed_payment(payment_metadata(PAYMENT, KEYS), old_only), NotOurs)


@pytest.mark.parametrize(
    "change",
    [
        {"company_id": "co_2"},
        {"account_id": "acct_2"},
        {"amount": "150000"},
        {"currency": "eur"},
        {"payment_id": "pay_2"},
        {"created_at": "2020-01-01"},
        {"invoices_0": "INV-1=1500"},
        {"signature": "v1=" + "0" * 64},
        {"signature": None},
    ],
)
def test_any_change_to_signed_metadata_makes_it_not_ours(change):
    metadata = {**payment_metadata(PAYMENT, KEYS), **change}
    metadata = {k: v for k, v in metadata.items() if v is not None}
    assert isinstance(signed_payment(metadata, KEYS), NotOurs)


def test_metadata_signed_with_another_key_is_not_ours():
    forger = SigningKeys.parse("a-key-anyone-could-have-made-0123456789")
    assert isinstance(signed_payment(payment_metadata(PAYMENT, forger), KEYS), NotOurs)
    assert isinstance(signed_payment(None, KEYS), NotOurs)
    assert isinstance(signed_payment({"owner": "stripe-bridge", "payment_id": "p"}, KEYS), NotOurs)


VALUES = st.one_of(
    st.text(max_size=20), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=2)
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            ["owner", "payment_id", "company_id", "account_id", "amount", "currency"]
            + ["created_at", "signature", "invoices_0", "invoices_1", "other"]
        ),
        VALUES,
    ),
    st.booleans(),
)
def test_reading_any_metadata_never_raises(metadata, claim_owner):
    if claim_owner:
        metadata = {**metadata, "owner": "stripe-bridge"}
    assert isinstance(signed_payment(metadata, KEYS), NotOurs)
    assert isinstance(claimed_payment({"metadata": metadata}, ACCOUNT, KEYS), NotOurs)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(payment_metadata(PAYMENT, KEYS))), VALUES)
def test_signed_metadata_with_any_value_changed_is_not_ours(key, value):
    original = payment_metadata(PAYMENT, KEYS)
    changed = {**original, key: value}
    if changed == original:
        return
    assert isinstance(signed_payment(changed, KEYS), NotOurs)


def test_a_payment_intent_is_ours_only_for_its_account_company_amount_and_currency():
    assert claimed_payment(intent(), ACCOUNT, KEYS) == PAYMENT
    other_company = replace(ACCOUNT, company_id="co_2")
    other_account = replace(ACCOUNT, account_id="acct_2")
    for account in (other_company, other_account):
        assert isinstance(claimed_payment(intent(), account, KEYS), NotOurs)
    for fields in ({"amount": 50}, {"amount": None}, {"currency": "eur"}, {"currency": None}):
        assert isinstance(claimed_payment(intent(**fields), ACCOUNT, KEYS), NotOurs)
    assert claimed_payment(intent(currency="USD"), ACCOUNT, KEYS) == PAYMENT


def test_lines_that_do_not_add_up_are_not_a_payment_even_when_signed():
    lopsided = replace(PAYMENT, invoices=(InvoiceLine("INV-1", 100_000),))
    assert isinstance(claimed_payment(intent(lopsided), ACCOUNT, KEYS), NotOurs)


def test_a_stored_payment_is_settled_by_its_own_payment_intent_or_source_only():
    stored = replace(PAYMENT, payment_intent_id="pi_1", version=3)
    assert settled_by(stored, PAYMENT, payment_intent_id="pi_1") == stored
    assert isinstance(settled_by(stored, PAYMENT, payment_intent_id="pi_2"), NotOurs)
    assert settled_by(stored, PAYMENT, source_id="src_1") == stored
    bound = replace(stored, source_id="src_1")
    assert isinstance(settled_by(bound, PAYMENT, source_id="src_2"), NotOurs)
    differs = replace(stored, amount=150)
    assert isinstance(settled_by(differs, PAYMENT, payment_intent_id="pi_1"), NotOurs)


def test_keys_too_short_to_be_secret_are_refused():
    for raw in ("", "short", "a" * 40 + ",short"):
        with pytest.raises(ValueError):
            SigningKeys.parse(raw)


def test_keys_never_show_in_a_repr_or_a_log_line():
    assert "unit-metadata-key" not in repr(KEYS) and "unit-metadata-key" not in str(KEYS)
