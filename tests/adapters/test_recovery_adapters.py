"""Recovery's adapters: Stripe's event list through the SDK and the stand-in, DynamoDB, SQS."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from chalicelib.adapters import stripe_events
from chalicelib.adapters.dynamodb import DynamoAccountStore
from chalicelib.adapters.recovery_store import (
    DynamoAccountDirectory,
    DynamoWatermarkStore,
    SqsWorkQueue,
)
from chalicelib.adapters.stripe_api import make_client
from chalicelib.adapters.stripe_events import StripeEventLog
from chalicelib.domain.accounts import AccountStatus, ConnectedAccount
from chalicelib.domain.errors import StripeRejected
from chalicelib.domain.recovery import Watermark
from chalicelib.domain.webhooks import HANDLED_EVENT_TYPES
from local.stripe_standin import StripeStandin

KEY = "sk_test_recovery"


@pytest.fixture(scope="module")
def standin():
    with StripeStandin(port=0, api_key=KEY) as server:
        yield server


def control(standin, path, body):
    request = urllib.request.Request(
        f"{standin.url}/_standin{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def paid_account(standin, payments=1):
    """A connected account at Stripe whose customers paid by card, webhooks never sent."""
    account = f"acct_1A{uuid.uuid4().hex[:12]}"
    control(standin, "/accounts", {"id": account})
    log = StripeEventLog(make_client(KEY, api_base=standin.url, timeout_seconds=5))
    client = make_client(KEY, api_base=standin.url, timeout_seconds=5)
    for _ in range(payments):
        intent = client.v1.payment_intents.create(
            {"amount": 500, "currency": "usd"}, {"stripe_account": account}
        )
        control(standin, f"/payment_intents/{intent.id}/pay", {"method": "card", "deliver": False})
    return account, log


def test_the_account_s_handled_events_are_listed_within_the_window(standin):
    account, log = paid_account(standin)
    paid_account(standin)  # another account, whose events must not show
    now = int(time.time())
    events = log.list_events(account, HANDLED_EVENT_TYPES, now - 60, now + 1, max_pages=5)
    assert sorted(e["type"] for e in events) == ["charge.succeeded", "payment_intent.succeeded"]
    assert {e["account"] for e in events} == {account}  # never the other account's
    assert log.list_events(account, HANDLED_EVENT_TYPES, now + 1, now + 2, 5) == []


def test_pages_are_followed_and_too_many_pages_say_so(standin, monkeypatch):
    account, log = paid_account(standin, payments=3)
    monkeypatch.setattr(stripe_events, "PAGE_SIZE", 2)
    now = int(time.time())
    every = log.list_events(account, HANDLED_EVENT_TYPES, now - 60, now + 1, max_pages=3)
    assert len(every) == 6 and len({e["id"] for e in every}) == 6
    assert log.list_events(account, HANDLED_EVENT_TYPES, now - 60, now + 1, max_pages=2) is None


def test_an_account_that_revoked_the_platform_is_refused(standin):
    account, log = paid_account(standin)
    control(standin, f"/accounts/{account}/deauthorize", {})
    with pytest.raises(StripeRejected) as refused:
        log.list_events(account, HANDLED_EVENT_TYPES, 0, int(time.time()) + 1, 1)
    assert refused.value.status == 403


def test_calls_are_spaced_by_the_minimum_interval(standin):
    account, _ = paid_account(standin)
    clock, slept = [100.0], []
    log = StripeEventLog(
        make_client(KEY, api_base=standin.url, timeout_seconds=5),
        min_interval=0.25,
        clock=lambda: clock[0],
        sleep=lambda seconds: (slept.append(seconds), clock.__setitem__(0, clock[0] + seconds)),
    )
    for _ in range(3):
        log.list_events(account, HANDLED_EVENT_TYPES, 0, int(time.time()) + 1, 1)
    assert slept == [0.25, 0.25]


def test_a_watermark_round_trips_and_a_stale_writer_loses(aws, outputs):
    store = DynamoWatermarkStore(aws.client("dynamodb"), outputs["RecoveryTableName"])
    account = f"acct_1W{uuid.uuid4().hex[:12]}"
    assert store.get(account) is None
    assert store.save(account, Watermark(1000, {"evt_1": 990}), "t1")
    stored = store.get(account)
    assert stored == Watermark(1000, {"evt_1": 990}, 1)
    assert not store.save(account, Watermark(5000), "t2")  # a run that read nothing yet
    assert store.save(account, Watermark(2000, {}, stored.version), "t3")
    assert not store.save(account, Watermark(3000, {}, stored.version), "t4")  # lost the race
    assert store.get(account) == Watermark(2000, {}, 2)


def test_the_directory_lists_every_account_with_its_status(aws, outputs):
    client = aws.client("dynamodb")
    accounts = DynamoAccountStore(client, outputs["AccountsTableName"])
    on, off = f"acct_1D{uuid.uuid4().hex[:12]}", f"acct_1D{uuid.uuid4().hex[:12]}"
    accounts.put(ConnectedAccount(on, "co_dir", False, "2026-12-01T00:00:00+00:00"))
    accounts.put(
        ConnectedAccount(
            off, "co_dir", False, "2026-12-01T00:00:00+00:00", status=AccountStatus.DISCONNECTED
        )
    )
    listings = dict(DynamoAccountDirectory(client, outputs["AccountsTableName"]).listings())
    assert (listings[on], listings[off]) == ("connected", "disconnected")


def test_the_work_queue_gets_one_message_per_account(aws, outputs):
    sqs = aws.client("sqs")
    url = outputs["RecoveryQueueUrl"]
    accounts = [f"acct_1Q{n:03d}" for n in range(23)]
    SqsWorkQueue(sqs, url).send_accounts(accounts)
    received = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", []):
        for message in messages:
            received.append(json.loads(message["Body"])["account_id"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(received) == accounts
