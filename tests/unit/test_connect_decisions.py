"""The OAuth decisions of connecting an account: requests, links, states, languages."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.accounts import AccountStatus, ConnectedAccount, SealedSecrets
from chalicelib.domain.connect import (
    Attach,
    Callback,
    ConnectRequest,
    Failure,
    Pending,
    attach_outcome,
    choose_locale,
    csrf_problem,
    digest,
    link_problem,
    must_release,
    parse_account_id,
    parse_connect_request,
    state_problem,
    stripe_refusal,
)
from chalicelib.domain.errors import InvalidInput

NOW = 1_800_000_000
REQUEST = ConnectRequest("co_1")
COOKIE = "cookie-value"


def state(**changes) -> Pending:
    fields = {"request": REQUEST, "expires_at": NOW + 60, "binding": digest(COOKIE)}
    return Pending(**{**fields, **changes})


def callback(**changes) -> Callback:
    fields = {"state": "st", "code": "ac_1", "error": None, "cookie": COOKIE}
    return Callback(**{**fields, **changes})


def test_a_full_connect_request_is_parsed():
    body = {
        "email": "admin@example.com",
        "connected_by": " Jane (user 42) ",
        "locale": "fr",
        "return_url": "https://platform.example.com/settings/payments",
    }
    assert parse_connect_request("co_1", body) == ConnectRequest(
        "co_1",
        "admin@example.com",
        "Jane (user 42)",
        "fr",
        "https://platform.example.com/settings/payments",
    )


@pytest.mark.parametrize("body", [None, {}])
def test_every_field_of_a_connect_request_is_optional(body):
    assert parse_connect_request("co_1", body) == ConnectRequest("co_1")


@pytest.mark.parametrize(
    ("company_id", "body", "field"),
    [
        ("co 1", {}, "company_id"),
        ("co_1", [], "body"),
        ("co_1", {"company": "x"}, "company"),
        ("co_1", {"email": "not an email"}, "email"),
        ("co_1", {"email": 42}, "email"),
        ("co_1", {"locale": "de"}, "locale"),
        ("co_1", {"return_url": "javascript:alert(1)"}, "return_url"),
        ("co_1", {"return_url": "/relative"}, "return_url"),
        ("co_1", {"connected_by": ""}, "connected_by"),
        ("co_1", {"connected_by": "a\nb"}, "connected_by"),
        ("co_1", {"connected_by": "x" * 201}, "connected_by"),
    ],
)
def test_a_wrong_connect_request_names_its_field(company_id, body, field):
    with pytest.raises(InvalidInput) as raised:
        parse_connect_request(company_id, body)
    assert raised.value.field == field


def test_account_ids_look_like_stripe_ones():
    assert parse_account_id("acct_1Abc") == "acct_1Abc"
    for wrong in ("", "acct_", "cus_123", "acct_1/../x"):
        with pytest.raises(InvalidInput):
            parse_account_id(wrong)


def test_a_link_is_usable_once_and_until_it_expires():
    link = Pending(REQUEST, expires_at=NOW + 900)
    assert link_problem(link, NOW) is None
    assert link_problem(None, NOW) is Failure.LINK_UNKNOWN
    assert link_problem(Pending(REQUEST, NOW + 900, used_at=NOW), NOW) is Failure.LINK_USED
    # Expiry is checked here, not left to DynamoDB's TTL, which deletes days late.
    assert link_problem(link, NOW + 899.9) is None
    assert link_problem(link, NOW + 900) is Failure.LINK_EXPIRED


def test_a_fresh_unused_state_with_its_own_cookie_is_valid():
    assert state_problem(state(), callback(), NOW) is None


@pytest.mark.parametrize(
    ("stored", "seen", "failure"),
    [
        (state(), callback(state=None), Failure.STATE_MISSING),
        (state(), callback(state=""), Failure.STATE_MISSING),
        (None, callback(), Failure.STATE_UNKNOWN),
        (state(used_at=NOW - 1), callback(), Failure.STATE_USED),
        (state(expires_at=NOW), callback(), Failure.STATE_EXPIRED),
        (state(), callback(cookie=None), Failure.STATE_MISMATCH),
        (state(), callback(cookie="another browser"), Failure.STATE_MISMATCH),
        (state(binding=None), callback(), Failure.STATE_MISMATCH),
    ],
)
def test_a_state_that_is_missing_unknown_spent_stale_or_foreign_is_refused(stored, seen, failure):
    assert state_problem(stored, seen, NOW) is failure


def test_the_cookie_is_compared_by_digest_never_stored_in_clear():
    assert digest(COOKIE) != COOKIE and len(digest(COOKIE)) == 64
    assert state_problem(state(binding=COOKIE), callback(), NOW) is Failure.STATE_MISMATCH


def test_stripe_refusals():
    assert stripe_refusal("access_denied") is Failure.ACCESS_DENIED
    assert stripe_refusal("invalid_scope") is Failure.AUTHORIZATION_FAILED


def account(company_id: str, status: AccountStatus, account_id="acct_1") -> ConnectedAccount:
    return ConnectedAccount(account_id, company_id, False, "2026-01-01T00:00:00Z", status)


ACTIVE_OTHER = account("co_1", AccountStatus.CONNECTED, "acct_active")


@pytest.mark.parametrize(
    ("found", "active", "replace", "outcome"),
    [
        (None, None, False, Attach.CONNECTED),
        (account("co_1", AccountStatus.CONNECTED), None, False, Attach.ALREADY_CONNECTED),
        (account("co_1", AccountStatus.DISCONNECTED), None, False, Attach.CONNECTED),
        (account("co_1", AccountStatus.REPLACED), None, False, Attach.CONNECTED),
        (account("co_2", AccountStatus.CONNECTED), None, False, Attach.TAKEN),
        (account("co_2", AccountStatus.DISCONNECTED), None, True, Attach.TAKEN),
        (None, ACTIVE_OTHER, False, Attach.ANOTHER_ACCOUNT_ACTIVE),
        (None, ACTIVE_OTHER, True, Attach.REPLACED),
        (
            account("co_1", AccountStatus.REPLACED),
            ACTIVE_OTHER,
            False,
            Attach.ANOTHER_ACCOUNT_ACTIVE,
        ),
        (account("co_1", AccountStatus.DISCONNECTED), ACTIVE_OTHER, True, Attach.REPLACED),
    ],
)
def test_what_connecting_an_account_does(found, active, replace, outcome):
    assert attach_outcome(found, active, "co_1", replace) is outcome


statuses = st.sampled_from(list(AccountStatus))


@given(
    found=st.none() | st.builds(account, st.sampled_from(["co_1", "co_2"]), statuses),
    active=st.none()
    | st.builds(lambda s: account("co_1", s, "acct_active"), st.just(AccountStatus.CONNECTED)),
    replace=st.booleans(),
)
def test_a_company_never_gets_a_second_active_account_nor_anothers(found, active, replace):
    outcome = attach_outcome(found, active, "co_1", replace)
    if found is not None and found.company_id != "co_1":
        assert outcome is Attach.TAKEN
    elif active is not None and not (found and found.is_active):
        # Another account is active: only the platform's own replace link may change that.
        assert outcome is (Attach.REPLACED if replace else Attach.ANOTHER_ACCOUNT_ACTIVE)
    else:
        assert outcome in (Attach.CONNECTED, Attach.ALREADY_CONNECTED)


def test_a_refused_grant_is_revoked_unless_the_platform_still_uses_that_account():
    assert must_release(None)
    assert must_release(account("co_2", AccountStatus.DISCONNECTED))
    assert not must_release(account("co_2", AccountStatus.CONNECTED))
    assert not must_release(account("co_1", AccountStatus.REPLACED))  # its payments still repair


LINK = Pending(REQUEST, NOW + 60, csrf="token-0123456789")


@pytest.mark.parametrize(
    ("form", "cookie"),
    [
        (None, None),
        ("token-0123456789", None),  # a page elsewhere that learnt the token
        (None, "token-0123456789"),
        ("token-0123456789", "another"),
        ("wrong", "token-0123456789"),
        ("", ""),
    ],
)
def test_the_continue_form_needs_the_links_token_in_the_form_and_the_cookie(form, cookie):
    assert csrf_problem(LINK, form, cookie) is Failure.CSRF_FAILED
    assert csrf_problem(LINK, "token-0123456789", "token-0123456789") is None


def test_a_link_without_a_token_is_never_continued():
    assert csrf_problem(Pending(REQUEST, NOW + 60), "", "") is Failure.CSRF_FAILED


def test_a_link_may_name_the_company_and_replace_its_account():
    parsed = parse_connect_request("co_1", {"company_name": " Acme & Co ", "replace": True})
    assert (parsed.company_name, parsed.replace) == ("Acme & Co", True)
    assert parse_connect_request("co_1", {}).replace is False
    for body, field in (({"replace": "yes"}, "replace"), ({"company_name": ""}, "company_name")):
        with pytest.raises(InvalidInput) as raised:
            parse_connect_request("co_1", body)
        assert raised.value.field == field


@pytest.mark.parametrize(
    ("preferred", "accept", "expected"),
    [
        ("fr", "en-US,en;q=0.9", "fr"),
        ("en", "fr", "en"),
        (None, "fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        (None, "de-DE, en;q=0.5, fr;q=0.7", "fr"),
        (None, "en;q=0.1, fr", "fr"),
        (None, "de", "en"),
        (None, None, "en"),
        (None, "fr;q=nonsense, en", "en"),
        ("de", None, "en"),
    ],
)
def test_the_language_is_the_links_else_the_browsers(preferred, accept, expected):
    assert choose_locale(preferred, accept) == expected


def test_an_account_never_shows_its_signing_secrets_when_logged():
    secret = "whsec_0123456789abcdefWXYZ"
    plain = replace(account("co_1", AccountStatus.CONNECTED), webhook_secrets=(secret,))
    sealed = replace(plain, webhook_secrets=SealedSecrets(["c2VhbGVk"], lambda _: secret))
    for shown in (repr(plain), str(sealed), repr(sealed.webhook_secrets)):
        assert secret not in shown
    assert sealed.webhook_secrets == (secret,) and plain == sealed
