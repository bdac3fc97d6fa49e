"""Every notification the service builds matches its JSON Schema in schemas/notifications/, and
the schemas refuse what the platform could not rely on."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.accounts import (
    AccountNotification,
    ConnectedAccount,
    account_notification,
    connected,
    disconnected,
    replaced,
)
from chalicelib.domain.payment_methods import (
    PAYMENT_METHOD_UPDATED,
    SavedPaymentMethod,
    payment_method_notification,
)
from chalicelib.domain.payments import (
    DuplicateCharge,
    InvoiceLine,
    Payment,
    PaymentStatus,
    notification_of,
)
from tests.notification_schemas import check_detail, detail_types, problems

AT = "2026-11-29T12:00:00.000+00:00"
LATER = "2026-11-30T08:15:30.125+00:00"


def test_there_is_a_schema_for_every_kind_of_notification():
    kinds = {str(k) for k in AccountNotification} | {"payment.updated", PAYMENT_METHOD_UPDATED}
    kinds.add("account.pending_authorization")  # imported accounts, before their admin's OAuth
    assert set(detail_types()) == kinds


payments = st.builds(
    Payment,
    payment_id=st.from_regex(r"pay_[a-f0-9]{16}", fullmatch=True),
    company_id=st.text("abcdefgh-0123", min_size=1, max_size=20),
    account_id=st.from_regex(r"acct_[A-Za-z0-9]{8,16}", fullmatch=True),
    amount=st.integers(1, 10**8),
    currency=st.sampled_from(["usd", "eur", "jpy"]),
    invoices=st.lists(
        st.builds(InvoiceLine, st.text(min_size=1, max_size=10), st.integers(1, 10**6)),
        min_size=1,
        max_size=3,
    ).map(tuple),
    created_at=st.just(AT),
    status=st.sampled_from(list(PaymentStatus)),
    payment_intent_id=st.none() | st.just("pi_3Mtw"),
    amount_received=st.integers(0, 10**8),
    amount_remaining=st.none() | st.integers(0, 10**8),
    charge_id=st.none() | st.just("ch_3Mtw"),
    source_id=st.none() | st.just("src_1N3"),
    failure_code=st.none() | st.just("card_declined"),
    failure_message=st.none() | st.text(max_size=40),
    duplicate_charges=st.lists(
        st.builds(DuplicateCharge, st.just("ch_dup"), st.integers(1, 10**6)), max_size=2
    ).map(tuple),
    version=st.integers(1, 50),
    updated_at=st.just(LATER),
)


@given(payments)
def test_every_payment_notification_matches_its_schema(payment):
    check_detail("payment.updated", notification_of(payment))


@given(
    st.sampled_from(["new", "validated", "verified", "verification_failed", "errored"]),
    st.integers(1, 20),
    st.none() | st.just("STRIPE TEST BANK"),
)
def test_every_payment_method_notification_matches_its_schema(status, version, bank_name):
    method = SavedPaymentMethod(
        "acct_1Connected", "ba_1Mtw", "bank_account", status, "cus_1", bank_name, "6789", "US",
        "usd", version, LATER,
    )  # fmt: skip
    check_detail(PAYMENT_METHOD_UPDATED, payment_method_notification(method, "co_1"))


def account_journey() -> list[tuple[str, dict]]:
    """Every account notification a company's life produces: connect, replace, disconnect."""
    first = connected(
        ConnectedAccount("acct_1First", "co_1", False, AT, connected_by="admin"), None
    )
    second = connected(ConnectedAccount("acct_1Second", "co_1", True, LATER), None)
    gone = disconnected(replaced(first, second.account_id, LATER), LATER)
    back = connected(replace(first, connected_at=LATER), gone)
    steps = [
        (AccountNotification.CONNECTED, first),
        (AccountNotification.CONNECTED, second),
        (AccountNotification.REPLACED, replaced(first, second.account_id, LATER)),
        (AccountNotification.DISCONNECTED, gone),
        (AccountNotification.CONNECTED, back),
    ]
    return [(str(kind), account_notification(a, kind, LATER)) for kind, a in steps]


@pytest.mark.parametrize(("kind", "detail"), account_journey())
def test_every_account_notification_matches_its_schema(kind, detail):
    check_detail(kind, detail)


def pending_detail(**changes):
    detail = {
        "notification_id": "acct_1Imported.v1",
        "type": "account.pending_authorization",
        "version": 1,
        "account_id": "acct_1Imported",
        "company_id": "co_migrated",
        "status": "pending_authorization",
        "livemode": False,
        "connected_at": None,
        "connected_by": None,
        "disconnected_at": None,
        "replaced_by": None,
        "imported_at": AT,
        "occurred_at": AT,
    }
    return {**detail, **changes}


def test_an_imported_account_waiting_for_authorisation_has_the_same_envelope():
    assert problems("account.pending_authorization", pending_detail()) == []
    assert problems("account.pending_authorization", pending_detail(email="a@b.test")) == []
    assert problems("account.pending_authorization", pending_detail(connected_at=AT))


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("payment.updated", {"status": "paid"}),  # not one of the states
        ("payment.updated", {"notification_id": "pay_1"}),  # no version: nothing to dedupe on
        ("payment.updated", {"amount": "1500"}),
        ("payment.updated", {"secret": "sk_live_x"}),  # nothing the contract does not name
        ("account.connected", {"status": "replaced"}),  # its type says otherwise
        ("account.disconnected", {"disconnected_at": None}),
        ("account.replaced", {"replaced_by": None}),
    ],
)
def test_the_schemas_refuse_what_the_platform_could_not_rely_on(kind, change):
    details = {
        "payment.updated": notification_of(
            Payment(
                "pay_1",
                "co_1",
                "acct_1",
                100,
                "usd",
                (InvoiceLine("i", 100),),
                AT,
                version=1,
                updated_at=AT,
            )  # fmt: skip
        ),
        **{k: d for k, d in account_journey()},
    }
    assert problems(kind, {**details[kind], **change})


def test_a_type_without_a_schema_is_named():
    with pytest.raises(AssertionError, match="no schema for notifications of detail-type 'x.y'"):
        check_detail("x.y", {})
