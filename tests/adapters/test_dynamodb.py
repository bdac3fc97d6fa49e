"""Payments and accounts in DynamoDB: conditional writes, the outbox, lookups."""

import uuid
from dataclasses import replace

import pytest

from chalicelib.adapters.dynamodb import DynamoAccountStore, DynamoPaymentStore
from chalicelib.adapters.encryption import KmsSecretBox
from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.errors import ConcurrentUpdate, Conflict
from chalicelib.domain.payments import (
    DuplicateCharge,
    InvoiceLine,
    Payment,
    PaymentStatus,
    notification_of,
)
from chalicelib.services.accounts import Accounts
from tests.adapters.conftest import SERVICE
from tests.unit.fakes import RecordingNotifier

NOW = "2026-11-29T12:00:00.000+00:00"


@pytest.fixture
def payments(aws, outputs):
    return DynamoPaymentStore(aws.client("dynamodb"), outputs["PaymentsTableName"])


@pytest.fixture
def accounts(aws, outputs):
    box = KmsSecretBox(aws.client("kms"), f"alias/{SERVICE}-secrets")
    records = DynamoAccountStore(aws.client("dynamodb"), outputs["AccountsTableName"], box)
    return Accounts(records, RecordingNotifier)


def new_payment():
    return Payment(
        f"pay_{uuid.uuid4().hex}",
        "co_1",
        "acct_1",
        1500,
        "usd",
        (InvoiceLine("inv-1", 1000), InvoiceLine("inv-2", 500)),
        NOW,
        payment_intent_id=f"pi_{uuid.uuid4().hex[:12]}",
    )


def succeeded(payment):
    return replace(
        payment,
        status=PaymentStatus.SUCCEEDED,
        amount_received=1500,
        amount_remaining=0,
        charge_id="ch_1",
        version=payment.version + 1,
        updated_at=NOW,
    )


def test_a_payment_round_trips(payments):
    payment = new_payment()
    payments.insert(payment)
    assert payments.get(payment.payment_id) == payment
    assert payments.get("pay_missing") is None


def test_inserting_the_same_payment_twice_is_a_conflict(payments):
    payment = new_payment()
    payments.insert(payment)
    with pytest.raises(Conflict):
        payments.insert(payment)


def test_a_transition_lands_with_its_notification(payments):
    payment = new_payment()
    payments.insert(payment)
    done = succeeded(payment)
    payments.save(done, expected_version=0, notification=notification_of(done))
    assert payments.get(payment.payment_id) == done
    assert [n["notification_id"] for n in payments.unpublished(payment.payment_id)] == [
        f"{payment.payment_id}.v1"
    ]


def test_a_stale_version_is_refused_and_changes_nothing(payments):
    payment = new_payment()
    payments.insert(payment)
    done = succeeded(payment)
    payments.save(done, 0, notification_of(done))
    with pytest.raises(ConcurrentUpdate):
        payments.save(done, 0, notification_of(done))
    assert payments.get(payment.payment_id).version == 1
    assert len(payments.unpublished(payment.payment_id)) == 1


def test_published_notifications_leave_the_outbox(payments, aws, outputs):
    payment = new_payment()
    payments.insert(payment)
    done = succeeded(payment)
    payments.save(done, 0, notification_of(done))
    payments.mark_published(payment.payment_id, f"{payment.payment_id}.v1")
    payments.mark_published(payment.payment_id, f"{payment.payment_id}.v1")  # twice is harmless
    assert payments.unpublished(payment.payment_id) == []
    item = aws.client("dynamodb").get_item(
        TableName=outputs["PaymentsTableName"], Key={"payment_id": {"S": payment.payment_id}}
    )["Item"]
    assert "outbox_pending" not in item  # off the sweep's index


def test_what_another_writer_left_unpublished_is_published_with_the_next_change(
    payments, aws, outputs
):
    payment = new_payment()
    payments.insert(payment)
    processing = replace(payment, status=PaymentStatus.PROCESSING, version=1, updated_at=NOW)
    # Another consumer wrote v1 and died before publishing it.
    other = DynamoPaymentStore(aws.client("dynamodb"), outputs["PaymentsTableName"])
    other.save(processing, 0, notification_of(processing))
    read = payments.get(payment.payment_id)
    done = succeeded(read)
    payments.save(done, read.version, notification_of(done))
    ids = [f"{payment.payment_id}.v1", f"{payment.payment_id}.v2"]
    assert [n["notification_id"] for n in payments.unpublished(payment.payment_id)] == ids
    payments.mark_published(payment.payment_id, ids[0])
    assert [n["notification_id"] for n in payments.unpublished(payment.payment_id)] == ids[1:]
    payments.mark_published(payment.payment_id, ids[1])
    assert other.unpublished(payment.payment_id) == []
    item = aws.client("dynamodb").get_item(
        TableName=outputs["PaymentsTableName"], Key={"payment_id": {"S": payment.payment_id}}
    )["Item"]
    assert "outbox_pending" not in item


def test_a_change_that_lost_its_write_answers_the_outbox_from_dynamodb(payments, aws, outputs):
    payment = new_payment()
    payments.insert(payment)
    read = payments.get(payment.payment_id)
    other = DynamoPaymentStore(aws.client("dynamodb"), outputs["PaymentsTableName"])
    done = succeeded(payment)
    other.save(done, 0, notification_of(done))
    with pytest.raises(ConcurrentUpdate):
        payments.save(succeeded(read), read.version, notification_of(succeeded(read)))
    assert [n["notification_id"] for n in payments.unpublished(payment.payment_id)] == [
        f"{payment.payment_id}.v1"
    ]


def test_a_duplicate_charge_is_kept_with_the_payment_and_told_in_its_notification(payments):
    payment = new_payment()
    payments.insert(payment)
    done = succeeded(payment)
    payments.save(done, 0, notification_of(done))
    twice = replace(done, duplicate_charges=(DuplicateCharge("ch_2", 1500),), version=2)
    payments.save(twice, 1, notification_of(twice))
    assert payments.get(payment.payment_id) == twice
    told = payments.unpublished(payment.payment_id)[-1]
    assert told["duplicate_charges"] == [{"charge_id": "ch_2", "amount": 1500}]


def test_payments_are_found_by_charge_and_source_through_key_only_indexes(payments, aws, outputs):
    payment = replace(new_payment(), source_id=f"src_{uuid.uuid4().hex[:12]}")
    payments.insert(payment)
    done = replace(succeeded(payment), charge_id=f"ch_{uuid.uuid4().hex[:12]}")
    payments.save(done, 0, notification_of(done))
    assert payments.find_by_charge(done.charge_id) == done
    assert payments.find_by_source(payment.source_id) == done
    assert payments.find_by_charge("ch_nobody") is None
    table = aws.client("dynamodb").describe_table(TableName=outputs["PaymentsTableName"])
    projections = {
        index["IndexName"]: (
            index["Projection"]["ProjectionType"],
            tuple(index["Projection"].get("NonKeyAttributes", ())),
        )
        for index in table["Table"]["GlobalSecondaryIndexes"]
    }
    # No index holds a payment's facts or its outbox: only the table does. The sweep's index
    # carries its own count of checks, no fact of the payment.
    assert projections.pop("due") == ("INCLUDE", ("sweep_checks",))
    assert set(projections.values()) == {("KEYS_ONLY", ())} and len(projections) == 4


def test_the_companys_connected_account_wins_over_an_older_disconnected_one(accounts):
    company = f"co_{uuid.uuid4().hex[:8]}"
    old = ConnectedAccount(
        "acct_old" + company,
        company,
        False,
        "2026-01-01T00:00:00Z",
        status=AccountStatus.DISCONNECTED,
    )
    new = ConnectedAccount("acct_new" + company, company, False, "2026-06-01T00:00:00Z")
    accounts.put(old)
    accounts.put(new)
    assert accounts.connected_for_company(company) == new
    assert accounts.get(old.account_id) == old
    assert accounts.connected_for_company("co_nobody") is None


def test_disconnecting_keeps_the_history_and_the_first_time(accounts):
    account = ConnectedAccount(
        f"acct_{uuid.uuid4().hex[:10]}", "co_d", False, NOW, webhook_secrets=("whsec_a", "whsec_b")
    )
    accounts.put(account)
    assert accounts.get(account.account_id).webhook_secrets == ("whsec_a", "whsec_b")
    first = accounts.mark_disconnected(account.account_id, "2026-12-01T00:00:00.000Z")
    again = accounts.mark_disconnected(account.account_id, "2026-12-02T00:00:00.000Z")
    assert first.status is AccountStatus.DISCONNECTED
    assert again.disconnected_at == "2026-12-01T00:00:00.000Z"
    assert again.connected_at == NOW and again.company_id == "co_d"
    assert accounts.mark_disconnected("acct_unknown", NOW) is None
