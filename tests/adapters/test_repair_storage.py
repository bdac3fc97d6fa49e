"""What the repair engine stores besides transitions: lookups by Stripe id, links, bank accounts."""

import uuid
from dataclasses import replace

import pytest

from chalicelib.adapters.dynamodb import DynamoPaymentStore, to_item
from chalicelib.adapters.payment_methods import DynamoPaymentMethodStore
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.payment_methods import SavedPaymentMethod
from chalicelib.domain.payments import InvoiceLine, Payment
from chalicelib.domain.sources import linked

NOW = "2026-11-29T12:00:00.000+00:00"


@pytest.fixture
def payments(aws, outputs):
    return DynamoPaymentStore(aws.client("dynamodb"), outputs["PaymentsTableName"])


@pytest.fixture
def methods(aws, outputs):
    return DynamoPaymentMethodStore(aws.client("dynamodb"), outputs["PaymentMethodsTableName"])


def new_payment():
    suffix = uuid.uuid4().hex
    return Payment(f"pay_{suffix}", "co_1", "acct_1", 900, "usd", (InvoiceLine("i", 900),), NOW)


def test_a_source_is_linked_without_a_notification_and_found_by_its_id(payments):
    payment = new_payment()
    payments.insert(payment)
    source_id = f"src_{uuid.uuid4().hex[:14]}"
    bound = linked(payment, source_id, NOW)
    payments.save(bound, expected_version=0, notification=None)
    assert payments.get(payment.payment_id) == bound
    assert payments.unpublished(payment.payment_id) == []
    assert payments.find_by_source(source_id) == bound
    assert payments.find_by_source("src_unknown") is None
    with pytest.raises(ConcurrentUpdate):
        payments.save(bound, expected_version=0, notification=None)


def test_a_payment_is_found_by_its_charge(payments):
    payment = new_payment()
    payments.insert(payment)
    charge_id = f"ch_{uuid.uuid4().hex[:14]}"
    charged = replace(payment, charge_id=charge_id, version=1, updated_at=NOW)
    payments.save(charged, 0, None)
    assert payments.find_by_charge(charge_id) == charged
    assert payments.find_by_charge("ch_unknown") is None


def bank_account(status, version):
    return SavedPaymentMethod(
        "acct_1",
        "ba_1",
        "bank_account",
        status,
        "cus_1",
        "STRIPE TEST BANK",
        "6789",
        "US",
        "usd",
        version,
        NOW,
    )


def test_a_saved_bank_account_is_written_once_per_version(methods):
    assert methods.get("acct_1", "ba_missing") is None
    account = f"acct_{uuid.uuid4().hex[:10]}"
    first = replace(bank_account("new", 1), account_id=account)
    methods.save(first, expected_version=0)
    assert methods.get(account, "ba_1") == first
    with pytest.raises(ConcurrentUpdate):
        methods.save(first, expected_version=0)  # someone stored it first
    verified = replace(first, status="verified", version=2)
    methods.save(verified, expected_version=1)
    with pytest.raises(ConcurrentUpdate):
        methods.save(replace(first, version=2), expected_version=1)
    assert methods.get(account, "ba_1") == verified


def test_a_bank_accounts_notification_is_written_with_it_and_kept_until_published(methods):
    account = f"acct_{uuid.uuid4().hex[:10]}"
    first = replace(bank_account("new", 1), account_id=account)
    methods.save(first, 0, {"notification_id": "n.v1", "version": 1})
    verified = replace(first, status="verified", version=2)
    methods.save(verified, 1, {"notification_id": "n.v2", "version": 2})
    with pytest.raises(ConcurrentUpdate):
        methods.save(replace(first, version=2), 1, {"notification_id": "lost.v2", "version": 2})
    assert [n["notification_id"] for n in methods.unpublished(account, "ba_1")] == ["n.v1", "n.v2"]
    methods.mark_published(account, "ba_1", "n.v1")
    assert [n["notification_id"] for n in methods.unpublished(account, "ba_1")] == ["n.v2"]
    assert methods.get(account, "ba_1") == verified


def test_a_bank_account_stored_before_notifications_existed_takes_its_first_one(
    aws, outputs, methods
):
    account = f"acct_{uuid.uuid4().hex[:10]}"
    first = replace(bank_account("new", 1), account_id=account)
    item = {k: v for k, v in first.__dict__.items() if v is not None}
    table = outputs["PaymentMethodsTableName"]
    aws.client("dynamodb").put_item(TableName=table, Item=to_item(item))  # with no outbox
    methods.save(
        replace(first, status="verified", version=2), 1, {"notification_id": "n.v2", "version": 2}
    )
    assert [n["notification_id"] for n in methods.unpublished(account, "ba_1")] == ["n.v2"]
    assert methods.get(account, "ba_1").status == "verified"
