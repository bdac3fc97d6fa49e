"""Recovery through the real queues: the schedule fans out, the worker queues what Stripe never
delivered, the consumer repairs it once. Stripe is the stand-in; nothing is delivered by webhook.
"""

from __future__ import annotations

import pytest

from chalicelib import recovery_jobs, wiring
from chalicelib.adapters.recovery_store import DynamoWatermarkStore
from local.sqs_trigger import SqsTrigger


@pytest.fixture
def recovery_env(monkeypatch, outputs, bridge):
    monkeypatch.setenv("RECOVERY_MIN_CALL_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("RECOVERY_QUEUE_URL", outputs["RecoveryQueueUrl"])
    wiring.reset()
    bridge.drain("RecoveryQueueUrl")
    return bridge


def work(bridge) -> int:
    """Run the recovery worker (one account per invocation) until its queue is empty."""
    trigger = SqsTrigger(
        bridge.sqs,
        bridge.outputs["RecoveryQueueUrl"],
        lambda event, context: recovery_jobs.recover_from_queue(event),
        batch_size=1,
        wait_time_seconds=0,
        function_name="recover_account_events",
        report_batch_item_failures=False,
    )
    runs = 0
    while trigger.run_once():
        runs += 1
    return runs


def pay_without_webhook(bridge, method="card"):
    payment = bridge.start_payment()
    bridge.control(
        f"/payment_intents/{payment.payment_intent_id}/pay", {"method": method, "deliver": False}
    )
    return payment


def test_a_payment_whose_webhooks_never_came_is_repaired_once_by_the_scheduled_recovery(
    recovery_env,
):
    bridge = recovery_env
    payment = pay_without_webhook(bridge)

    assert recovery_jobs.schedule_recovery() >= 1
    assert work(bridge) >= 1
    while bridge.consume():
        pass
    repaired = bridge.payment(payment.payment_id)
    assert repaired.status == "succeeded"
    assert [n["status"] for n in bridge.told(payment.payment_id)] == ["succeeded"]

    # Another run: the account's events are not queued again; nothing changes.
    recovery_jobs.schedule_recovery()
    work(bridge)
    while bridge.consume():
        pass
    assert bridge.payment(payment.payment_id) == repaired
    assert [n["status"] for n in bridge.told(payment.payment_id)] == ["succeeded"]


def test_when_the_events_queue_refuses_the_watermark_stays_and_the_retry_recovers(
    recovery_env, monkeypatch, outputs
):
    bridge = recovery_env
    payment = pay_without_webhook(bridge)
    marks = DynamoWatermarkStore(bridge.aws.client("dynamodb"), outputs["RecoveryTableName"])
    monkeypatch.setenv("EVENTS_QUEUE_URL", outputs["EventsQueueUrl"] + "-gone")
    wiring.reset()

    with pytest.raises(RuntimeError, match="could not be queued"):
        recovery_jobs.recover_from_queue(
            {"Records": [{"body": f'{{"account_id": "{bridge.account}"}}'}]}
        )
    stored = marks.get(bridge.account)
    assert stored is not None and stored.recent == {}  # nothing counted as queued

    # The operator's run reports what the worker retries.
    assert recovery_jobs.recover(account_id=bridge.account)["accounts"][0]["outcome"] == (
        "incomplete"
    )
    monkeypatch.setenv("EVENTS_QUEUE_URL", outputs["EventsQueueUrl"])
    wiring.reset()
    report = recovery_jobs.recover()
    mine = [a for a in report["accounts"] if a["account_id"] == bridge.account]
    assert len(mine[0]["queued"]) == 2  # charge.succeeded and payment_intent.succeeded
    while bridge.consume():
        pass
    assert bridge.payment(payment.payment_id).status == "succeeded"


def test_a_work_message_without_a_valid_account_is_dropped_and_changes_nothing(recovery_env):
    bridge = recovery_env
    for body in ("not json", '{"account_id": "acct_1x\\n"}', '{"account_id": 7}', "[]"):
        assert recovery_jobs.recover_from_queue({"Records": [{"body": body}]}) == []
    assert bridge.queue_depth() == 0


def test_an_operator_gets_a_clear_error_for_a_bad_account_or_time(recovery_env):
    with pytest.raises(ValueError, match="not a Stripe account id"):
        recovery_jobs.recover(account_id="acct_1x; drop")
    with pytest.raises(ValueError, match="time zone"):
        recovery_jobs.recover(account_id=recovery_env.account, since="2026-12-01T00:00:00")
    with pytest.raises(ValueError, match="ISO 8601"):
        recovery_jobs.recover(since="yesterday")
