"""What a bank account's verification status may become on the saved payment method, and what
the platform is told of it."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.payment_methods import (
    apply_bank_account,
    describe_payment_method,
    observe_bank_account,
)
from chalicelib.services.payment_methods import record_bank_account
from tests.unit.fakes import MemoryPaymentMethods, NotifierDown, RecordingNotifier

_STATUSES = {"new", "validated", "verified", "verification_failed", "errored"}

NOW = "2026-11-29T12:00:00.000+00:00"


def seen(status, **fields):
    bank_account = {
        "id": "ba_1",
        "object": "bank_account",
        "customer": "cus_1",
        "status": status,
        "bank_name": "STRIPE TEST BANK",
        "last4": "6789",
        "country": "US",
        "currency": "usd",
        **fields,
    }
    return observe_bank_account(bank_account, "acct_1")


def stored(status, version=1):
    return replace(seen(status), version=version, updated_at=NOW)


def test_a_first_sighting_is_saved_as_version_one():
    saved = apply_bank_account(None, seen("new"), NOW)
    assert (saved.status, saved.version, saved.account_id, saved.customer_id) == (
        "new",
        1,
        "acct_1",
        "cus_1",
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("new", "validated"),
        ("new", "verified"),
        ("validated", "verification_failed"),
        ("verified", "errored"),
    ],
)
def test_verification_moves_forward(before, after):
    assert apply_bank_account(stored(before), seen(after), NOW).status == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("verified", "new"),
        ("verified", "validated"),
        ("verification_failed", "verified"),
        ("verified", "verification_failed"),
        ("errored", "verified"),
    ],
)
def test_verification_never_moves_back_or_sideways(before, after):
    assert apply_bank_account(stored(before), seen(after), NOW) is None


def test_the_same_facts_again_change_nothing_and_new_facts_bump_the_version():
    assert apply_bank_account(stored("verified"), seen("verified"), NOW) is None
    renamed = apply_bank_account(stored("verified", 3), seen("verified", bank_name="X"), NOW)
    assert (renamed.bank_name, renamed.version) == ("X", 4)


# --- what the platform is told --------------------------------------------------------------


def test_each_stored_change_is_told_once_under_a_stable_id():
    methods, notifier = MemoryPaymentMethods(), RecordingNotifier()
    record_bank_account(methods, notifier, seen("new"), "co_1", NOW)
    record_bank_account(methods, notifier, seen("new"), "co_1", NOW)  # a duplicate event
    record_bank_account(methods, notifier, seen("verified"), "co_1", NOW)
    record_bank_account(methods, notifier, seen("new"), "co_1", NOW)  # a stale read
    assert notifier.ids() == ["acct_1.ba_1.v1", "acct_1.ba_1.v2"]
    told = notifier.published[-1]
    assert (told["type"], told["status"], told["company_id"]) == (
        "payment_method.updated",
        "verified",
        "co_1",
    )
    assert told["payment_method"] == describe_payment_method(methods.get("acct_1", "ba_1"))


def test_a_notification_the_bus_refused_is_published_when_the_event_is_retried():
    methods, notifier = MemoryPaymentMethods(), RecordingNotifier(down=True)
    with pytest.raises(NotifierDown):
        record_bank_account(methods, notifier, seen("verification_failed"), "co_1", NOW)
    assert methods.get("acct_1", "ba_1").status == "verification_failed"  # stored all the same
    notifier.down = False
    record_bank_account(methods, notifier, seen("verification_failed"), "co_1", NOW)
    assert notifier.ids() == ["acct_1.ba_1.v1"]
    assert methods.unpublished("acct_1", "ba_1") == []


@given(st.lists(st.sampled_from(sorted(_STATUSES)), min_size=1, max_size=8))
def test_whatever_order_statuses_are_seen_in_each_version_is_told_exactly_once(statuses):
    methods, notifier = MemoryPaymentMethods(), RecordingNotifier()
    for status in statuses:
        record_bank_account(methods, notifier, seen(status), "co_1", NOW)
    final = methods.get("acct_1", "ba_1")
    assert notifier.ids() == [f"acct_1.ba_1.v{v}" for v in range(1, final.version + 1)]
    assert notifier.published[-1]["status"] == final.status
