"""When a chargeable Source may be charged for a payment, and with what."""

from dataclasses import replace

import pytest

from chalicelib.domain.errors import CurrencyMismatch
from chalicelib.domain.metadata import SigningKeys, signed_payment
from chalicelib.domain.payments import InvoiceLine, Payment, PaymentStatus
from chalicelib.domain.sources import charge_idempotency_key, charge_params, linked, may_charge

NOW = "2026-11-29T12:00:00.000+00:00"
S = PaymentStatus
PAYMENT = Payment("pay_1", "co_1", "acct_1", 1500, "usd", (InvoiceLine("INV-1", 1500),), NOW)
KEYS = SigningKeys.parse("unit-source-metadata-key-0123456789abcdef")


def source(status="chargeable", **fields):
    return {"id": "src_1", "object": "source", "status": status, "currency": "usd", **fields}


@pytest.mark.parametrize("status", [S.PENDING, S.FAILED])
def test_an_open_payment_may_be_paid_by_its_chargeable_source(status):
    assert may_charge(replace(PAYMENT, status=status), source())
    assert may_charge(replace(PAYMENT, status=status, source_id="src_1"), source())


@pytest.mark.parametrize("status", ["pending", "consumed", "failed", "canceled"])
def test_a_source_that_is_not_chargeable_is_never_charged(status):
    assert not may_charge(PAYMENT, source(status))


@pytest.mark.parametrize("status", [S.PROCESSING, S.PARTIALLY_FUNDED, S.SUCCEEDED, S.CANCELED])
def test_a_payment_paid_or_being_paid_otherwise_is_not_charged_again(status):
    assert not may_charge(replace(PAYMENT, status=status), source())


def test_a_payment_bound_to_another_source_is_not_charged_again():
    assert not may_charge(replace(PAYMENT, source_id="src_0"), source())


def test_linking_binds_once_and_bumps_the_version():
    bound = linked(PAYMENT, "src_1", NOW)
    assert (bound.source_id, bound.version, bound.status) == ("src_1", 1, S.PENDING)
    assert linked(bound, "src_1", NOW) is None
    assert linked(bound, "src_2", NOW) is None


def test_the_charge_takes_the_sources_amount_and_signed_metadata_once_per_source():
    params = charge_params(PAYMENT, source(amount=1500), KEYS)
    assert (params["source"], params["amount"], params["currency"]) == ("src_1", 1500, "usd")
    assert signed_payment(params["metadata"], KEYS) == PAYMENT
    assert charge_idempotency_key("src_1") == charge_idempotency_key("src_1") != "src_1"
    with pytest.raises(CurrencyMismatch):
        charge_params(PAYMENT, source(currency="eur", amount=1500), KEYS)
    # Never the payment's amount from a Source for less.
    with pytest.raises(ValueError):
        charge_params(PAYMENT, source(amount=50), KEYS)
