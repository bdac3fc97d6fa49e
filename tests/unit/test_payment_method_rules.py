"""What a bank account's verification status may become on the saved payment method."""

from dataclasses import replace

import pytest

from chalicelib.domain.payment_methods import apply_bank_account, observe_bank_account

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
