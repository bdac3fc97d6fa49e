"""The metadata written on a PaymentIntent is enough to rebuild its payment."""

from dataclasses import replace

from chalicelib.domain.metadata import (
    payment_id_of,
    payment_metadata,
    rebuild_payment,
    rebuild_payment_from_source,
)
from chalicelib.domain.payments import InvoiceLine, Payment


def test_a_payment_with_many_invoices_round_trips_within_stripes_limits():
    invoices = tuple(InvoiceLine(f"invoice-{i:04d}-{'x' * 40}", 100 + i) for i in range(100))
    payment = Payment(
        "pay_1",
        "co_1",
        "acct_1",
        sum(i.amount for i in invoices),
        "usd",
        invoices,
        "2026-11-29T00:00:00.000+00:00",
        payment_intent_id="pi_1",
    )
    metadata = payment_metadata(payment)
    assert len(metadata) <= 50 and all(len(v) <= 500 for v in metadata.values())
    intent = {"id": "pi_1", "amount": payment.amount, "currency": "usd", "metadata": metadata}
    assert rebuild_payment(intent, "acct_1") == payment


def test_objects_the_service_did_not_create_are_not_claimed():
    assert payment_id_of({"payment_id": "pay_1"}) is None
    assert payment_id_of(None) is None
    assert rebuild_payment({"id": "pi_x", "metadata": {}}, "acct_1") is None


def test_a_source_carrying_a_payments_metadata_rebuilds_it_with_its_own_amount():
    payment = Payment(
        "pay_2", "co_1", "acct_1", 800, "usd", (InvoiceLine("INV-3", 800),), "2026-11-29"
    )
    source = {
        "id": "src_1",
        "amount": 800,
        "currency": "usd",
        "metadata": payment_metadata(payment),
    }
    assert rebuild_payment_from_source(source, "acct_1") == replace(payment, source_id="src_1")
    assert rebuild_payment_from_source(dict(source, amount=None), "acct_1").amount == 800
    assert rebuild_payment_from_source(dict(source, metadata={}), "acct_1") is None


def test_a_source_naming_a_payment_without_describing_it_rebuilds_nothing():
    source = {
        "id": "src_1",
        "amount": 800,
        "currency": "usd",
        "metadata": {"owner": "stripe-bridge", "payment_id": "pay_3"},
    }
    assert rebuild_payment_from_source(source, "acct_1") is None
