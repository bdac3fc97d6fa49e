"""Connect links, states and account attachment in DynamoDB (moto): the conditions that make
them single use and keep an account with its company."""

import json
import uuid
from dataclasses import replace

import pytest

from chalicelib.adapters.connect_sessions import DynamoConnectSessions
from chalicelib.adapters.dynamodb import DynamoAccountStore
from chalicelib.adapters.encryption import KmsSecretBox
from chalicelib.domain.accounts import (
    AccountChange,
    AccountNotification,
    AccountStatus,
    ActiveChange,
    ConnectedAccount,
    account_notification,
)
from chalicelib.domain.connect import ConnectRequest, Pending
from chalicelib.domain.errors import ConcurrentUpdate, Conflict
from tests.adapters.conftest import SERVICE


@pytest.fixture
def sessions(aws, outputs):
    return DynamoConnectSessions(aws.client("dynamodb"), outputs["ConnectSessionsTableName"])


@pytest.fixture
def accounts(aws, outputs):
    box = KmsSecretBox(aws.client("kms"), f"alias/{SERVICE}-secrets")
    return DynamoAccountStore(aws.client("dynamodb"), outputs["AccountsTableName"], box)


def key() -> str:
    return f"state#{uuid.uuid4().hex}"


def test_a_pending_state_round_trips_with_every_field(sessions):
    pending = Pending(
        ConnectRequest(
            "co_1", "a@example.com", "jane", "fr", "https://platform.example.com/x", "Acme", True
        ),
        expires_at=1_800_000_000,
        binding="ab" * 32,
        csrf="token-0123",
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


def raw_item(aws, outputs, account_id: str) -> dict:
    return aws.client("dynamodb").get_item(
        TableName=outputs["AccountsTableName"], Key={"account_id": {"S": account_id}}
    )["Item"]


def connected_now(account: ConnectedAccount) -> AccountChange:
    fresh = replace(account, version=1)
    notice = account_notification(fresh, AccountNotification.CONNECTED, fresh.connected_at)
    return AccountChange(fresh, 0, notice)


def test_a_new_account_is_written_with_its_notification_and_made_active(accounts):
    change = connected_now(new_account())
    account = change.account
    accounts.write([change], ActiveChange(account.company_id, None, account.account_id))
    assert accounts.get(account.account_id) == account
    assert accounts.active_account_id(account.company_id) == account.account_id
    assert [n["notification_id"] for n in accounts.unpublished(account.account_id)] == [
        f"{account.account_id}.v1"
    ]
    accounts.mark_published(account.account_id, f"{account.account_id}.v1")
    assert accounts.unpublished(account.account_id) == []


def test_a_write_on_a_stale_version_or_active_account_changes_nothing(accounts):
    first = connected_now(new_account(f"co_{uuid.uuid4().hex[:8]}"))
    company, account_id = first.account.company_id, first.account.account_id
    accounts.write([first], ActiveChange(company, None, account_id))
    other = connected_now(new_account(company))
    stale = [
        ([first], None),  # expects version 0, the item is at 1
        ([other], ActiveChange(company, None, other.account.account_id)),  # one is active
        ([other], ActiveChange(company, "acct_someone", other.account.account_id)),
    ]
    for changes, active in stale:
        with pytest.raises(ConcurrentUpdate):
            accounts.write(changes, active)
    # All or nothing: the new account was not written either.
    assert accounts.get(other.account.account_id) is None
    assert accounts.active_account_id(company) == account_id
    gone = replace(first.account, status=AccountStatus.DISCONNECTED, version=2)
    accounts.write([AccountChange(gone, 1, None)], ActiveChange(company, account_id, None))
    assert accounts.active_account_id(company) is None and accounts.get(account_id) == gone


def test_a_company_lists_all_its_accounts_newest_first(accounts):
    company = f"co_{uuid.uuid4().hex[:8]}"
    old = new_account(company, connected_at="2026-01-01T00:00:00.000+00:00")
    new = new_account(company, connected_at="2026-06-01T00:00:00.000+00:00")
    for account in (old, new, new_account("co_someone_else")):
        accounts.put(account)
    listed = accounts.for_company(company)
    assert [a.account_id for a in listed] == [new.account_id, old.account_id]


def test_signing_secrets_are_sealed_in_the_table_and_opened_for_their_account(
    accounts, aws, outputs
):
    account = new_account()
    accounts.put(account)
    secrets = ("whsec_0123456789abcdef0123", "whsec_rolling0123456789abcd")
    stored = accounts.set_webhook_secrets(account.account_id, secrets)
    assert tuple(stored.webhook_secrets) == secrets
    assert accounts.get(account.account_id).webhook_secrets == secrets
    item = raw_item(aws, outputs, account.account_id)
    assert "whsec_" not in json.dumps(item)
    assert "webhook_secrets" not in item and len(item["webhook_secrets_sealed"]["L"]) == 2
    assert accounts.set_webhook_secrets("acct_1Nobody", secrets) is None


def test_the_company_index_holds_keys_only(accounts, aws, outputs):
    account = new_account(f"co_{uuid.uuid4().hex[:8]}", webhook_secrets=("whsec_" + "k" * 24,))
    accounts.put(account)
    items = aws.client("dynamodb").query(
        TableName=outputs["AccountsTableName"],
        IndexName="by_company",
        KeyConditionExpression="company_id = :c",
        ExpressionAttributeValues={":c": {"S": account.company_id}},
    )["Items"]
    assert [set(item) for item in items] == [{"account_id", "company_id", "connected_at"}]


def test_a_sealed_secret_moved_to_another_accounts_item_does_not_open(accounts, aws, outputs):
    owner, thief = new_account(), new_account()
    accounts.put(replace(owner, webhook_secrets=("whsec_owners0123456789abcdef",)))
    accounts.put(thief)
    sealed = raw_item(aws, outputs, owner.account_id)["webhook_secrets_sealed"]
    aws.client("dynamodb").update_item(
        TableName=outputs["AccountsTableName"],
        Key={"account_id": {"S": thief.account_id}},
        UpdateExpression="SET webhook_secrets_sealed = :s",
        ExpressionAttributeValues={":s": sealed},
    )
    moved = accounts.get(thief.account_id).webhook_secrets
    assert len(moved) == 1 and list(moved) == []  # stored, but nothing it can verify with
    assert "whsec_" not in repr(moved)
    assert list(accounts.get(owner.account_id).webhook_secrets) == ["whsec_owners0123456789abcdef"]


def test_without_a_box_no_secret_is_ever_stored(aws, outputs):
    bare = DynamoAccountStore(aws.client("dynamodb"), outputs["AccountsTableName"])
    account = new_account(webhook_secrets=("whsec_0123456789abcdef0123",))
    with pytest.raises(RuntimeError):
        bare.put(account)
    with pytest.raises(RuntimeError):
        bare.set_webhook_secrets(account.account_id, account.webhook_secrets)


def test_secrets_stored_in_clear_before_sealing_still_work_until_sealed(accounts, aws, outputs):
    account = new_account()
    accounts.put(account)
    legacy = "whsec_legacy0123456789abcdef"
    aws.client("dynamodb").update_item(
        TableName=outputs["AccountsTableName"],
        Key={"account_id": {"S": account.account_id}},
        UpdateExpression="SET webhook_secrets = :s",
        ExpressionAttributeValues={":s": {"L": [{"S": legacy}]}},
    )
    assert accounts.get(account.account_id).webhook_secrets == (legacy,)
    accounts.set_webhook_secrets(account.account_id, (legacy,))
    assert "whsec_" not in json.dumps(raw_item(aws, outputs, account.account_id))
    assert accounts.get(account.account_id).webhook_secrets == (legacy,)


class CountingKms:
    """The real KMS client (moto), counting the decryptions asked of it."""

    def __init__(self, client) -> None:
        self._client = client
        self.decrypted = 0

    def encrypt(self, **kwargs):
        return self._client.encrypt(**kwargs)

    def decrypt(self, **kwargs):
        self.decrypted += 1
        return self._client.decrypt(**kwargs)


def test_a_warm_container_asks_kms_once_per_secret_and_only_when_one_is_used(aws, outputs):
    kms = CountingKms(aws.client("kms"))
    box = KmsSecretBox(kms, f"alias/{SERVICE}-secrets")
    accounts = DynamoAccountStore(aws.client("dynamodb"), outputs["AccountsTableName"], box)
    account = new_account(webhook_secrets=("whsec_cached0123456789abcdef",))
    accounts.put(account)
    stored = accounts.get(account.account_id)
    assert kms.decrypted == 0 and len(stored.webhook_secrets) == 1  # read, not opened
    for _ in range(5):  # five webhooks to the dedicated URL
        assert list(accounts.get(account.account_id).webhook_secrets) == list(
            account.webhook_secrets
        )
    assert kms.decrypted == 1
