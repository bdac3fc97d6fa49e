"""Deliveries counted per hour, against DynamoDB (moto) with infra/template.yaml's table."""

import uuid
from datetime import UTC, datetime, timedelta

from chalicelib.adapters.webhook_health import DynamoWebhookHealth
from chalicelib.domain.webhook_health import HEALTH_RETENTION, deliveries_from

NOW = datetime(2026, 12, 3, 19, 30, tzinfo=UTC)


def store(aws, outputs) -> DynamoWebhookHealth:
    return DynamoWebhookHealth(aws.client("dynamodb"), outputs["WebhookHealthTableName"])


def account() -> str:
    return f"acct_{uuid.uuid4().hex[:12]}"


def test_each_delivery_is_one_write_to_its_hours_bucket(aws, outputs):
    health, acct = store(aws, outputs), account()
    health.record(acct, True, NOW)
    health.record(acct, False, NOW + timedelta(minutes=1))
    health.record(acct, False, NOW + timedelta(minutes=2))
    [bucket] = health.recent(acct)
    assert (bucket.hour, bucket.verified, bucket.refused) == ("2026-12-03T19", 1, 2)
    assert bucket.last_verified is False
    assert bucket.last_at == (NOW + timedelta(minutes=2)).isoformat(timespec="milliseconds")
    assert bucket.last_verified_at == NOW.isoformat(timespec="milliseconds")
    item = aws.client("dynamodb").get_item(
        TableName=outputs["WebhookHealthTableName"],
        Key={"account_id": {"S": acct}, "hour": {"S": "2026-12-03T19"}},
    )["Item"]
    # Expires by TTL: the table never grows past a month of hours per account.
    assert int(item["expires_at"]["N"]) == int(
        (NOW + timedelta(minutes=2) + HEALTH_RETENTION).timestamp()
    )


def test_the_newest_buckets_give_the_last_delivery_and_the_last_24_hours(aws, outputs):
    health, acct = store(aws, outputs), account()
    health.record(acct, False, NOW - timedelta(hours=30))  # out of the window
    for hours in range(0, 60, 2):  # 30 old buckets
        health.record(acct, True, NOW - timedelta(days=3, hours=hours))
    health.record(acct, False, NOW - timedelta(hours=23, minutes=10))
    health.record(acct, False, NOW - timedelta(hours=1))
    health.record(acct, True, NOW)
    buckets = health.recent(acct)
    assert len(buckets) == 25 and buckets[0].hour == "2026-12-03T19"
    seen = deliveries_from(buckets, NOW)
    assert (seen.refused_last_24h, seen.last_verified) == (2, True)
    assert health.recent(account()) == []
