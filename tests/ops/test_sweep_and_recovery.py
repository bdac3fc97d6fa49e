"""`ops sweep` and `ops recover-events` as an operator runs them: a subprocess against moto and
the Stripe stand-in, no webhook ever delivered (the test's stage registered no endpoint)."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.domain.payments import PaymentStatus
from tests.ops.test_dlq import lambda_, paid_card_payment  # noqa: F401 (a fixture)


def test_sweep_repairs_a_paid_payment_no_webhook_told_of_and_payment_show_says_why(
    world,
    lambda_,  # noqa: F811
):
    payment, _ = paid_card_payment(world)
    # Not due yet (the first check is 5 minutes after a change): a plain run leaves it.
    first = world.ops("sweep", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["checked"] == {}
    assert wiring.payment_store().get(payment.payment_id).status == PaymentStatus.PENDING

    swept = world.ops("sweep", "--all", "--account", payment.account_id)
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.splitlines() == [
        "payments checked: 1 changed",
        "notifications published: 0",
    ]
    assert "checking open payments" in swept.stderr  # the progress bar
    done = wiring.payment_store().get(payment.payment_id)
    assert (done.status, done.amount_received) == (PaymentStatus.SUCCEEDED, 1500)
    assert lambda_.told(payment.payment_id) == [("succeeded", 1)]

    shown = world.ops_json("payment", "show", payment.payment_id)
    assert shown["check"] is None  # settled: never checked again
    assert [(h["cause"]["kind"], h["new_status"]) for h in shown["history"]] == [
        ("created", "pending"),
        ("sweep", "succeeded"),
    ]
    assert shown["history"][1]["stripe_object"] == {
        "object": "payment_intent",
        "id": payment.payment_intent_id,
        "status": "succeeded",
    }
    readable = world.ops("payment", "show", payment.payment_id)
    history = readable.stdout.split("history:\n", 1)[1].splitlines()
    assert history[0].startswith("  v0  ") and "- -> pending  created" in history[0]
    assert "pending -> succeeded  sweep  payment_intent " in history[1]
    assert history[1].endswith(f"{payment.payment_intent_id} succeeded")


def test_recover_events_queues_what_stripe_has_for_an_account_since_a_time(world, lambda_):  # noqa: F811
    payment, events = paid_card_payment(world)
    result = world.ops(
        "recover-events", "--account", payment.account_id, "--since", "2020-01-01T00:00:00Z"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"events queued: {len(events)}"
    assert f"{payment.account_id}  recovered  {len(events)} queued" in result.stdout
    queued = world.messages("EventsQueueUrl")
    assert sorted(m["MessageAttributes"]["event_id"]["StringValue"] for m in queued) == sorted(
        e["id"] for e in events
    )
    assert {m["MessageAttributes"]["origin"]["StringValue"] for m in queued} == {"recovery"}

    while lambda_.consume():
        pass
    shown = world.ops_json("payment", "show", payment.payment_id)
    assert shown["payment"]["status"] == "succeeded"
    assert shown["history"][-1]["cause"]["kind"] == "recovery"
    assert shown["history"][-1]["cause"]["event_id"] in {e["id"] for e in events}
