"""Connect links, states and account attachment in DynamoDB (moto): the conditions that make
them single use and keep an account with its company."""

import uuid
from dataclasses import replace

import pytest

from chalicelib.adapters.connect_sessions import DynamoConnectSessions
from chalicelib.adapters.dynamodb import DynamoAccountStore
from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.connect import Attach, ConnectRequest, Pending
from chalicelib.domain.errors import Conflict


@pytest.fixture
def sessions(aws, outputs):
    return DynamoConnectSessions(aws.client("dynamodb"), outputs["ConnectSessionsTableName"])


@pytest.fixture
def accounts(aws, outputs):
    return DynamoAccountStore(aws.client("dynamodb"), outputs["AccountsTableName"])


def key() -> str:
    return f"state#{uuid.uuid4().hex}"


def test_a_pending_state_round_trips_with_every_field(sessions):
    pending = Pending(
        ConnectRequest("co_1", "a@example.com", "jane", "fr", "https://platform.example.com/x"),
        expires_at=1_800_000_000,
        binding="ab" * 32,
    )
    k = key()
    sessions.put(k, pending)
    assert sessions.get(k) == pending
    assert sessions.get(key()) is None
    with pytest.raises(Conflict):
        sessions.put(k, pending)


def test_a_minimal_link_round_trips(sessions):
    k = key()
    sessions.put(k, Pending(ConnectRequest("co_1"), expires_at=1))
    assert sessions.get(k) == Pending(ConnectRequest("co_1"), expires_at=1)


def test_a_pending_one_is_used_once(sessions):
    # The condition is what makes it single use; DynamoDB applies it atomically per item
    # (moto does not, so races are not replayed here).
    k = key()
    sessions.put(k, Pending(ConnectRequest("co_1"), expires_at=1_800_000_000))
    assert [sessions.use(k, at) for at in (5, 6)] == [True, False]
    assert sessions.get(k).used_at == 5
    unknown = key()
    assert sessions.use(unknown, 1) is False  # never "used" into existence
    assert sessions.get(unknown) is None


def new_account(company_id="co_1", **changes) -> ConnectedAccount:
    fields = {"connected_at": "2026-11-29T10:00:00.000+00:00", "connected_by": "jane"}
    account_id = f"acct_{uuid.uuid4().hex[:16]}"
    return ConnectedAccount(account_id, company_id, False, **{**fields, **changes})


def test_attaching_a_new_account_stores_it(accounts):
    account = new_account()
    assert accounts.attach(account) == (Attach.CONNECTED, None)
    assert accounts.get(account.account_id) == account


def test_attaching_again_for_the_same_company_changes_nothing(accounts):
    account = new_account()
    accounts.attach(account)
    later = replace(account, connected_at="2026-11-30T00:00:00.000+00:00", connected_by="john")
    assert accounts.attach(later) == (Attach.ALREADY_CONNECTED, account)
    assert accounts.get(account.account_id) == account


def test_reattaching_a_disconnected_account_revives_it_and_keeps_its_secrets(accounts):
    account = new_account(webhook_secrets=("whsec_0123456789abcdef01",))
    accounts.put(account)
    gone = accounts.mark_disconnected(account.account_id, "2026-11-29T11:00:00.000+00:00")
    back = replace(
        account,
        connected_at="2026-11-29T12:00:00.000+00:00",
        connected_by=None,
        scope="read_only",
        webhook_secrets=(),
    )
    assert accounts.attach(back) == (Attach.CONNECTED, gone)
    stored = accounts.get(account.account_id)
    assert stored.status is AccountStatus.CONNECTED and stored.disconnected_at is None
    assert (stored.connected_at, stored.connected_by, stored.scope) == (
        back.connected_at,
        None,
        "read_only",
    )
    assert stored.webhook_secrets == account.webhook_secrets


@pytest.mark.parametrize("disconnected", [False, True])
def test_another_companys_account_is_never_taken_over(accounts, disconnected):
    account = new_account("co_owner")
    accounts.attach(account)
    if disconnected:
        account = accounts.mark_disconnected(account.account_id, "2026-11-29T11:00:00.000+00:00")
    outcome, found = accounts.attach(replace(account, company_id="co_other"))
    assert (outcome, found) == (Attach.TAKEN, account)
    assert accounts.get(account.account_id) == account


def test_a_company_lists_all_its_accounts_newest_first(accounts):
    company = f"co_{uuid.uuid4().hex[:8]}"
    old = new_account(company, connected_at="2026-01-01T00:00:00.000+00:00")
    new = new_account(company, connected_at="2026-06-01T00:00:00.000+00:00")
    for account in (old, new, new_account("co_someone_else")):
        accounts.attach(account)
    accounts.mark_disconnected(old.account_id, "2026-02-01T00:00:00.000+00:00")
    listed = accounts.for_company(company)
    assert [a.account_id for a in listed] == [new.account_id, old.account_id]
    assert [a.status for a in listed] == [AccountStatus.CONNECTED, AccountStatus.DISCONNECTED]
    assert accounts.connected_for_company(company) == new
