"""`ops import-accounts`: a migration's accounts stored as pending authorisation, all or none."""

from __future__ import annotations

import json

from chalicelib.adapters.dynamodb import DynamoAccountStore
from chalicelib.adapters.messaging import EventBridgeNotifier
from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.services.accounts import Accounts

HEADER = "company_id,account_id,email,livemode\n"


def accounts(world) -> Accounts:
    records = DynamoAccountStore(world.aws.client("dynamodb"), world.outputs["AccountsTableName"])
    bus = EventBridgeNotifier(world.aws.client("events"), f"{world.service}-notifications")
    return Accounts(records, lambda: bus)


def stored(world, account_id: str) -> ConnectedAccount | None:
    return accounts(world).get(account_id)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_csv_file_is_imported_pending_authorisation(world, tmp_path):
    path = write(
        tmp_path,
        "accounts.csv",
        HEADER + "co_1,acct_1Mig1,owner@one.test,false\nco_2,acct_1Mig2,,\n",
    )
    result = world.ops("import-accounts", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "line 2: imported: acct_1Mig1 pending authorisation",
        "line 3: imported: acct_1Mig2 pending authorisation",
        "2 imported, 0 unchanged",
    ]
    first = stored(world, "acct_1Mig1")
    assert (first.company_id, first.status, first.email, first.livemode) == (
        "co_1",
        "pending_authorization",
        "owner@one.test",
        False,
    )
    assert first.connected_at is None and first.imported_at
    assert [(s.status, s.at) for s in first.history] == [
        ("pending_authorization", first.imported_at)
    ]
    assert stored(world, "acct_1Mig2").email is None
    assert "checking rows" in result.stderr and "importing" in result.stderr  # progress


def test_running_it_twice_changes_nothing(world, tmp_path):
    path = write(
        tmp_path, "accounts.jsonl", '{"company_id": "co_1", "account_id": "acct_1Twice"}\n'
    )
    assert world.ops("import-accounts", path).returncode == 0
    before = stored(world, "acct_1Twice")
    again = world.ops("import-accounts", path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "line 1: unchanged: acct_1Twice is already pending_authorization",
        "0 imported, 1 unchanged",
    ]
    assert stored(world, "acct_1Twice") == before


def test_one_bad_row_and_nothing_is_imported(world, tmp_path):
    path = write(
        tmp_path,
        "accounts.csv",
        HEADER + "co_1,acct_1Good,,\nco_2,acct_bad!,,\nco_3,acct_1Live,,true\n",
    )
    result = world.ops("import-accounts", path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-3:] == [
        f"{path}: line 3: account_id: must be a Stripe account id (acct_…)",
        f"{path}: line 4: livemode: is true; this stage is test mode",
        f"2 bad row(s) in {path}; nothing imported (correct them, or pass --skip-invalid "
        "to import the 1 other(s))",
    ]
    assert result.stdout == ""
    assert stored(world, "acct_1Good") is None


def test_with_skip_invalid_the_good_rows_are_imported_and_the_bad_listed(world, tmp_path):
    path = write(
        tmp_path,
        "accounts.jsonl",
        '{"company_id": "co_1", "account_id": "acct_1Good"}\n'
        "\n"
        '{"company_id": "co_2", "account_id": "acct_1Good"}\n'
        '{"company_id": "co_3", "account_id": "acct_1Three", "email": "nobody"}\n'
        "not json\n",
    )
    result = world.ops("import-accounts", path, "--skip-invalid")
    assert result.returncode == 0, result.stderr
    bad = [line for line in result.stderr.splitlines() if line.startswith(path)]
    assert bad == [
        f"{path}: line 3: account_id: acct_1Good is already on line 1",
        f"{path}: line 4: email: must be an email address",
        f"{path}: line 5: not a JSON object: Expecting value: line 1 column 1 (char 0)",
    ]
    assert result.stdout.splitlines()[-1] == "1 imported, 0 unchanged, 3 bad row(s) skipped"
    assert stored(world, "acct_1Good").company_id == "co_1"
    assert stored(world, "acct_1Three") is None


def test_a_connected_account_or_another_companys_is_never_overwritten(world, tmp_path):
    store = accounts(world)
    store.attach(
        ConnectedAccount("acct_1Live", "co_live", False, "2026-12-01T10:00:00.000+00:00"),
        replace=False,
        at="2026-12-01T10:00:00.000+00:00",
    )
    live = store.get("acct_1Live")
    path = write(
        tmp_path,
        "accounts.csv",
        HEADER
        + "co_other,acct_1Live,,\n"  # another company's account
        + "co_live,acct_1Second,,\n",  # the company has a connected account
    )
    result = world.ops("import-accounts", path, "--skip-invalid")
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith(path)] == [
        f"{path}: line 2: account_id: acct_1Live is another company's",
        f"{path}: line 3: company_id: co_live has a connected account already",
    ]
    assert result.stdout.splitlines() == ["0 imported, 0 unchanged, 2 bad row(s) skipped"]
    own = write(tmp_path, "own.csv", HEADER + "co_live,acct_1Live,,\n")  # nothing to do
    result = world.ops("import-accounts", own)
    assert result.stdout.splitlines() == [
        "line 2: unchanged: acct_1Live is already connected",
        "0 imported, 1 unchanged",
    ]
    assert store.get("acct_1Live") == live
    assert store.get("acct_1Second") is None


def test_a_company_waits_for_one_account_only(world, tmp_path):
    first = write(tmp_path, "first.csv", HEADER + "co_1,acct_1First,,\n")
    assert world.ops("import-accounts", first).returncode == 0
    second = write(tmp_path, "second.csv", HEADER + "co_1,acct_1Other,,\n")
    result = world.ops("import-accounts", second)
    assert result.returncode == 1
    assert f"{second}: line 2: company_id: co_1 already has acct_1First pending authorisation" in (
        result.stderr.splitlines()
    )
    assert stored(world, "acct_1Other") is None


def test_the_platform_is_told_of_each_imported_account(world, tmp_path):
    sqs, events = world.aws.client("sqs"), world.aws.client("events")
    inbox = sqs.create_queue(QueueName=f"{world.service}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = f"{world.service}-notifications"
    events.put_rule(
        Name="to-inbox", EventBusName=bus, EventPattern=json.dumps({"source": ["stripe-bridge"]})
    )
    events.put_targets(Rule="to-inbox", EventBusName=bus, Targets=[{"Id": "i", "Arn": arn}])
    path = write(tmp_path, "a.csv", HEADER + "co_1,acct_1Told,admin@co1.test,\n")
    assert world.ops("import-accounts", path).returncode == 0
    assert world.ops("import-accounts", path).returncode == 0  # unchanged: told once

    messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    told = [json.loads(m["Body"]) for m in messages]
    assert [(t["detail-type"], t["source"]) for t in told] == [
        ("account.pending_authorization", "stripe-bridge")
    ]
    detail = told[0]["detail"]
    assert detail == {
        "notification_id": "acct_1Told.v1",
        "type": "account.pending_authorization",
        "version": 1,
        "account_id": "acct_1Told",
        "company_id": "co_1",
        "status": "pending_authorization",
        "livemode": False,
        "connected_at": None,
        "connected_by": None,
        "disconnected_at": None,
        "replaced_by": None,
        "imported_at": detail["imported_at"],
        "occurred_at": detail["imported_at"],
    }
    assert accounts(world).records.unpublished("acct_1Told") == []


def test_a_dry_run_says_what_would_happen_and_stores_nothing(world, tmp_path):
    path = write(tmp_path, "a.csv", HEADER + "co_1,acct_1Dry,,\n")
    result = world.ops("import-accounts", path, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "line 2: would be imported: acct_1Dry pending authorisation",
        "dry run: 1 imported, 0 unchanged; nothing imported",
    ]
    assert stored(world, "acct_1Dry") is None


def test_a_file_that_cannot_be_read_is_refused_whole(world, tmp_path):
    cases = {
        "latin1.csv": (HEADER + "co_é,acct_1X,,\n").encode("latin-1"),
        "columns.csv": b"company_id,account,email\nco_1,acct_1X,\n",
        "empty.csv": b"",
    }
    said = {}
    for name, raw in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        result = world.ops("import-accounts", str(path))
        assert result.returncode == 2
        said[name] = result.stderr.strip().removeprefix(f"error: {path}: ")
    assert said == {
        "latin1.csv": "not UTF-8 (byte 40); nothing imported",
        "columns.csv": "line 1: unknown column 'account' (columns: company_id, account_id, "
        "email, livemode); nothing imported",
        "empty.csv": "line 1: no header (company_id,account_id,email,livemode); nothing imported",
    }
