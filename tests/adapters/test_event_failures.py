"""The record of why events failed, against DynamoDB (moto) with infra/template.yaml's table."""

import uuid

from chalicelib.adapters.failures import RETENTION_SECONDS, DynamoEventFailures

T0 = 1_796_300_000.0


def store(aws, outputs, clock):
    return DynamoEventFailures(aws.client("dynamodb"), outputs["EventFailuresTableName"], clock)


def event_id():
    return f"evt_{uuid.uuid4().hex}"


def test_the_first_reason_stays_the_last_one_moves_and_failures_are_counted(aws, outputs):
    now = [T0]
    failures = store(aws, outputs, lambda: now[0])
    evt = event_id()
    failures.record("acct_1", evt, "charge.succeeded", "StripeUnavailable: down")
    now[0] += 90
    failures.record("acct_1", evt, "charge.succeeded", "RuntimeError: other")
    found = failures.get_many([("acct_1", evt)])[("acct_1", evt)]
    assert (found.first_reason, found.last_reason, found.failures) == (
        "StripeUnavailable: down",
        "RuntimeError: other",
        2,
    )
    assert found.first_failed_at < found.last_failed_at
    item = aws.client("dynamodb").get_item(
        TableName=outputs["EventFailuresTableName"], Key={"id": {"S": f"acct_1/{evt}"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) == int(T0 + 90) + RETENTION_SECONDS


def test_the_same_event_id_of_two_accounts_and_of_none_are_three_records(aws, outputs):
    failures = store(aws, outputs, lambda: T0)
    evt = event_id()
    for account in ("acct_1", "acct_2", None):
        failures.record(account, evt, None, f"reason of {account}")
    found = failures.get_many([("acct_1", evt), ("acct_2", evt), (None, evt), ("acct_3", evt)])
    assert {key: f.first_reason for key, f in found.items()} == {
        ("acct_1", evt): "reason of acct_1",
        ("acct_2", evt): "reason of acct_2",
        (None, evt): "reason of None",
    }
    assert found[(None, evt)].account is None and found[(None, evt)].event_type is None


def test_more_keys_than_one_batch_read_takes_and_expired_records_are_left_out(aws, outputs):
    now = [T0]
    failures = store(aws, outputs, lambda: now[0])
    ids = [event_id() for _ in range(130)]
    for evt in ids:
        failures.record("acct_1", evt, "charge.succeeded", "x")
    assert len(failures.get_many([("acct_1", evt) for evt in ids])) == 130
    now[0] += RETENTION_SECONDS + 1  # DynamoDB may take days to delete an expired item
    assert failures.get_many([("acct_1", ids[0])]) == {}
