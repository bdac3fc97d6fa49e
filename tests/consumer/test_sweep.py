"""The reconciliation sweep in-process, as its Lambda runs, against moto and the Stripe stand-in.

No webhook is delivered in these tests (`deliver: false` at the stand-in): only the sweep reads
Stripe again. The stage's backoff is 0 s (a new payment is due at once), then 60 s, then 120 s.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import sweep_jobs, wiring
from chalicelib.adapters.dynamodb import DynamoAccountStore, to_item
from chalicelib.domain.accounts import AccountStatus
from chalicelib.domain.payments import PaymentStatus, notification_of
from chalicelib.domain.sweep import CheckStatus


@pytest.fixture
def sweep(monkeypatch, bridge):
    monkeypatch.setenv("SWEEP_BACKOFF_SECONDS", "0,60,120")
    wiring.reset()
    return bridge


def run(seconds: float = 60.0) -> dict:
    return sweep_jobs.sweep_now(seconds=seconds)


def pay(bridge, payment, method: str, **extra) -> None:
    bridge.control(
        f"/payment_intents/{payment.payment_intent_id}/pay",
        {"method": method, "deliver": False, **extra},
    )


def history(payment_id: str) -> list[dict]:
    return [entry.as_dict() for entry in wiring.payment_store().history(payment_id)]


def told(bridge, payment_id: str) -> list[tuple[str, int]]:
    return [(n["status"], n["version"]) for n in bridge.told(payment_id)]


def test_a_card_payment_no_webhook_told_of_is_repaired_once_and_leaves_the_sweep(sweep):
    bridge = sweep
    payment = bridge.start_payment()
    pay(bridge, payment, "card_3ds")
    assert bridge.events() and all(e["type"] for e in bridge.events())  # recorded, not sent

    run()
    repaired = bridge.payment(payment.payment_id)
    assert (repaired.status, repaired.amount_received) == (PaymentStatus.SUCCEEDED, 1500)
    assert told(bridge, payment.payment_id) == [("succeeded", 1)]
    assert wiring.payment_store().check_of(payment.payment_id) is None  # never checked again

    entries = history(payment.payment_id)
    assert [
        (e["version"], e["cause"]["kind"], e["old_status"], e["new_status"]) for e in entries
    ] == [
        (0, "created", None, "pending"),
        (1, "sweep", "pending", "succeeded"),
    ]
    assert entries[1]["stripe_object"] == {
        "object": "payment_intent",
        "id": payment.payment_intent_id,
        "status": "succeeded",
    }

    run()  # nothing more to do: no write, no notification
    assert bridge.payment(payment.payment_id) == repaired
    assert told(bridge, payment.payment_id) == [("succeeded", 1)]
    assert len(history(payment.payment_id)) == 2


def test_a_bank_debit_is_followed_from_processing_to_succeeded_on_the_backoff(sweep):
    bridge = sweep
    payment = bridge.start_payment()
    run()  # the customer has not paid yet: nothing changes, the next check moves back
    check = wiring.payment_store().check_of(payment.payment_id)
    assert (check.checks, check.status) == (1, CheckStatus.SCHEDULED)
    soon = datetime.now(UTC) + timedelta(seconds=60)
    assert abs(datetime.fromisoformat(check.next_check_at) - soon) < timedelta(seconds=10)
    assert bridge.payment(payment.payment_id).version == 0

    pay(bridge, payment, "us_bank_account")
    sweep_jobs.sweep_now(every_open=True)  # as an operator would, without waiting a minute
    assert bridge.payment(payment.payment_id).status == PaymentStatus.PROCESSING
    check = wiring.payment_store().check_of(payment.payment_id)
    assert check.checks == 0  # a change restarts the backoff

    bridge.control(f"/payment_intents/{payment.payment_intent_id}/settle", {"deliver": False})
    run()
    assert bridge.payment(payment.payment_id).status == PaymentStatus.SUCCEEDED
    assert told(bridge, payment.payment_id) == [("processing", 1), ("succeeded", 2)]
    assert [e["cause"]["kind"] for e in history(payment.payment_id)] == [
        "created",
        "sweep",
        "sweep",
    ]


def test_a_bank_transfer_in_parts_is_told_once_per_state(sweep):
    bridge = sweep
    payment = bridge.start_payment(amount=1000)
    pay(bridge, payment, "customer_balance")
    bridge.control(
        f"/payment_intents/{payment.payment_intent_id}/fund", {"amount": 400, "deliver": False}
    )
    run()
    part = bridge.payment(payment.payment_id)
    assert (part.status, part.amount_received) == (PaymentStatus.PARTIALLY_FUNDED, 400)
    bridge.control(f"/payment_intents/{payment.payment_intent_id}/fund", {"deliver": False})
    run()
    assert bridge.payment(payment.payment_id).status == PaymentStatus.SUCCEEDED
    assert told(bridge, payment.payment_id) == [("partially_funded", 1), ("succeeded", 2)]


def test_a_chargeable_source_never_told_of_is_charged_once_by_the_sweep(sweep):
    bridge = sweep
    started = bridge.start(amount=1200)
    source = bridge.control(
        "/sources",
        {
            "account": bridge.account,
            "amount": 1200,
            "metadata": started.source_metadata,
            "deliver": False,
        },
    )["source"]
    bridge.control(f"/sources/{source['id']}/chargeable", {"deliver": False})
    # Bound to its Source (by the consumer, whose event got no further), but never charged.
    payment = wiring.payment_store().get(started.payment.payment_id)
    bound = replace(payment, source_id=source["id"], version=1, updated_at=payment.created_at)
    wiring.payment_store().save(bound, 0, None)

    run()
    run()
    paid = bridge.payment(payment.payment_id)
    assert (paid.status, paid.source_id, paid.amount_received) == ("succeeded", source["id"], 1200)
    charges = [e for e in bridge.events("charge.succeeded") if e["data"]["object"].get("source")]
    assert [c["data"]["object"]["id"] for c in charges] == [paid.charge_id]
    assert told(bridge, payment.payment_id) == [("succeeded", 2)]
    assert history(payment.payment_id)[-1]["stripe_object"]["object"] == "charge"


def test_notifications_left_in_an_outbox_are_published_in_version_order(sweep, monkeypatch):
    bridge = sweep
    payment = bridge.start_payment()
    store = wiring.payment_store()
    current = payment
    # Eleven changes whose notifications never left (the bus was down): v10 sorts before v2
    # as text.
    for version in range(1, 12):
        changed = replace(
            current,
            amount_received=version,
            version=version,
            updated_at=f"2026-12-03T12:00:{version:02d}.000+00:00",
        )
        store.save(changed, current.version, notification_of(changed))
        current = changed
    assert len(store.unpublished(payment.payment_id)) == 11

    report = run()
    assert report["notifications_published"] >= 11
    assert [v for _, v in told(bridge, payment.payment_id)] == list(range(1, 12))
    assert store.unpublished(payment.payment_id) == []


def test_an_accounts_notification_left_in_its_outbox_is_published(sweep, outputs):
    bridge = sweep
    records = DynamoAccountStore(bridge.aws.client("dynamodb"), outputs["AccountsTableName"])
    client = bridge.aws.client("dynamodb")
    # A disconnection stored, its notification not published (the bus refused it).
    notice = {"notification_id": f"{bridge.account}.v9", "version": 9, "account_id": bridge.account}
    client.update_item(
        TableName=outputs["AccountsTableName"],
        Key=to_item({"account_id": bridge.account}),
        UpdateExpression="SET outbox.#n = :n, outbox_pending = :p",
        ExpressionAttributeNames={"#n": notice["notification_id"]},
        ExpressionAttributeValues=to_item({":n": json.dumps(notice), ":p": "pending"}),
    )
    assert records.unpublished(bridge.account)

    run()
    assert records.unpublished(bridge.account) == []
    assert bridge.account not in records.with_unpublished(100)[0]


def test_a_payment_of_a_disconnected_account_is_not_checked_and_says_so(sweep):
    bridge = sweep
    payment = bridge.start_payment()
    pay(bridge, payment, "card")
    wiring.account_store().mark_disconnected(bridge.account, "2026-12-01T00:00:00.000+00:00")

    run()
    assert bridge.payment(payment.payment_id).status == PaymentStatus.PENDING
    check = wiring.payment_store().check_of(payment.payment_id)
    assert check.status == CheckStatus.ACCOUNT_DISCONNECTED
    assert len(history(payment.payment_id)) == 1


def test_an_account_whose_access_stripe_revoked_is_marked_and_not_asked_again(sweep):
    bridge = sweep
    first, second = bridge.start_payment(), bridge.start_payment()
    bridge.control(f"/accounts/{bridge.account}/deauthorize", {"deliver": False})

    report = sweep_jobs.sweep_now(account_id=bridge.account)
    assert report["checked"].get("access_revoked") == 2
    assert wiring.account_store().get(bridge.account).status == AccountStatus.DISCONNECTED
    for payment in (first, second):
        check = wiring.payment_store().check_of(payment.payment_id)
        assert check.status == CheckStatus.ACCOUNT_ACCESS_REVOKED
        assert bridge.payment(payment.payment_id).status == PaymentStatus.PENDING

    again = sweep_jobs.sweep_now(account_id=bridge.account, every_open=True)
    assert again["checked"] == {"not_checked": 2}


def test_a_run_out_of_time_stops_and_the_next_one_resumes_with_the_rest(sweep):
    bridge = sweep
    payments = [bridge.start_payment() for _ in range(3)]
    for payment in payments:
        pay(bridge, payment, "card")
    checked: list[str] = []
    # Time for one payment's check, then none.
    report = wiring.sweep().run(
        lambda: 0.0 if checked else 1.0,
        account_id=bridge.account,
        on_payment=lambda payment_id, outcome: checked.append(payment_id),
    )
    assert not report.complete and report.stopped_because == "out of time"
    done = [p for p in payments if bridge.payment(p.payment_id).status == "succeeded"]
    assert [p.payment_id for p in done] == checked and len(checked) == 1

    assert run()["complete"]
    assert all(bridge.payment(p.payment_id).status == "succeeded" for p in payments)
    assert all(told(bridge, p.payment_id) == [("succeeded", 1)] for p in payments)


def test_a_webhook_event_names_itself_in_the_history(sweep):
    bridge = sweep
    payment = bridge.start_payment()
    pay(bridge, payment, "card")
    bridge.deliver_all()
    entries = history(payment.payment_id)
    assert entries[-1]["cause"]["kind"] == "webhook"
    assert entries[-1]["cause"]["event_id"].startswith("evt_")
    assert entries[-1]["cause"]["event_type"] in {
        "payment_intent.succeeded",
        "charge.succeeded",
    }
    assert entries[-1]["new_status"] == "succeeded"
