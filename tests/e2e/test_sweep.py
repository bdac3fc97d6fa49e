"""Payments no webhook ever tells of reach Stripe's state by the sweep alone, on the running stack.

The stack runs here with the sweep every few seconds and event recovery as good as never, and
the platform's Connect endpoint is disabled at the Stripe stand-in for the whole test: Stripe
records every event and delivers none. Customers pay by card (3-D Secure), by bank debit
(processing, then succeeded) and by bank transfer in two parts, and leave.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import stripe

from local.stack import DEMO_COMPANY, SERVICE_NAME, StackConfig
from tests.e2e.conftest import ARTIFACTS, Stack, notifications, running_stack, wait_until

pytestmark = pytest.mark.e2e

SWEEP_INTERVAL = 4.0
# Every step under the interval: each run checks every open payment.
SWEEP_BACKOFF = "0,1,1,2,3"
# One interval, plus the time a run takes on a loaded machine.
WITHIN = SWEEP_INTERVAL + 4.0


@pytest.fixture(scope="module")
def swept() -> Iterator[Stack]:
    options = ["--seed-demo-account", "--schedule-interval", "3600"]
    options += ["--sweep-interval", str(SWEEP_INTERVAL), "--sweep-backoff", SWEEP_BACKOFF]
    with running_stack(ARTIFACTS / "sweep", *options) as running:
        client = stripe.StripeClient(
            StackConfig().stripe_secret_key, base_addresses={"api": running.stripe}
        )
        endpoints = client.v1.webhook_endpoints.list().data
        assert endpoints, "the stack registered no webhook endpoint"
        for endpoint in endpoints:
            client.v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
        yield running


@pytest.fixture(scope="module")
def inbox(swept: Stack) -> str:
    sqs, events = swept.client("sqs"), swept.client("events")
    url = sqs.create_queue(QueueName="platform-inbox-sweep")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = f"{SERVICE_NAME}-notifications"
    events.put_rule(
        Name="to-platform", EventBusName=bus, EventPattern=json.dumps({"source": ["stripe-bridge"]})
    )
    events.put_targets(Rule="to-platform", EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn}])
    return url


def reached(stack: Stack, payment_id: str, status: str, since: float) -> dict:
    payment = stack.wait_for_payment(payment_id, status, timeout=WITHIN + 10)
    took = time.monotonic() - since
    assert took <= WITHIN, f"{payment_id} took {took:.1f} s to become {status}"
    return payment


def test_every_payment_reaches_stripes_state_by_the_sweep_alone_told_once_per_state(swept, inbox):
    stack = swept
    card = stack.start_payment(amount=1500, company=DEMO_COMPANY)
    debit = stack.start_payment(amount=2000, company=DEMO_COMPANY)
    transfer = stack.start_payment(amount=1000, company=DEMO_COMPANY)

    stack.standin(f"/payment_intents/{card['payment_intent_id']}/pay", {"method": "card_3ds"})
    stack.standin(
        f"/payment_intents/{debit['payment_intent_id']}/pay", {"method": "us_bank_account"}
    )
    stack.standin(
        f"/payment_intents/{transfer['payment_intent_id']}/pay", {"method": "customer_balance"}
    )
    stack.standin(f"/payment_intents/{transfer['payment_intent_id']}/fund", {"amount": 400})
    acted = time.monotonic()
    reached(stack, card["payment_id"], "succeeded", acted)
    processing = reached(stack, debit["payment_id"], "processing", acted)
    part = reached(stack, transfer["payment_id"], "partially_funded", acted)
    assert processing["check"]["status"] == "scheduled"
    assert (part["amount_received"], part["amount_remaining"]) == (400, 600)

    # The bank settles the debit; the rest of the transfer arrives.
    stack.standin(f"/payment_intents/{debit['payment_intent_id']}/settle", {})
    stack.standin(f"/payment_intents/{transfer['payment_intent_id']}/fund", {})
    acted = time.monotonic()
    for started in (debit, transfer):
        done = reached(stack, started["payment_id"], "succeeded", acted)
        assert done["amount_received"] == started["amount"]
        assert "check" not in done  # settled: the sweep never reads it again

    records = stack.standin("/events?account=acct_demo", method="GET")["data"]
    assert records and all(r["deliveries"] == [] for r in records), "a webhook was delivered"

    expected = {
        card["payment_id"]: [("succeeded", 1)],
        debit["payment_id"]: [("processing", 1), ("succeeded", 2)],
        transfer["payment_id"]: [("partially_funded", 1), ("succeeded", 2)],
    }

    def told_all() -> dict | None:
        told = {
            p: [(n["status"], n["version"]) for n in notifications(stack, inbox, p, settle=0)]
            for p in expected
        }
        return told if all(len(told[p]) >= len(expected[p]) for p in expected) else None

    wait_until(told_all, 10, "every notification")
    # A few more runs of the sweep change nothing and tell nothing more.
    time.sleep(2 * SWEEP_INTERVAL)
    told = {
        p: [(n["status"], n["version"]) for n in notifications(stack, inbox, p)] for p in expected
    }
    assert told == expected

    for payment_id, states in expected.items():
        status, history = stack.platform("GET", f"/payments/{payment_id}/history")
        assert status == 200, history
        entries = history["history"]
        assert [(e["cause"]["kind"], e["new_status"]) for e in entries] == [
            ("created", "pending"),
            *[("sweep", state) for state, _ in states],
        ]
        assert all(e["stripe_object"]["object"] == "payment_intent" for e in entries[1:])
