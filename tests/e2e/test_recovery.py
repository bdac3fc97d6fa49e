"""Events Stripe never delivered are recovered from its event list, on the running local stack.

The platform's Connect endpoint is disabled at the Stripe stand-in for the whole test: Stripe
records the events but sends them nowhere (so not even `delivery_success=false` lists them).
Only the scheduled recovery (every few seconds locally) can bring them in.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import stripe

from chalicelib.adapters.dynamodb import DynamoAccountStore, from_item, to_item
from chalicelib.domain.accounts import ConnectedAccount
from local.stack import SERVICE_NAME, StackConfig
from tests.e2e.conftest import notifications, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def endpoint_disabled(stack) -> Iterator[None]:
    client = stripe.StripeClient(
        StackConfig().stripe_secret_key, base_addresses={"api": stack.stripe}
    )
    endpoints = [e for e in client.v1.webhook_endpoints.list().data if e.url.startswith(stack.api)]
    assert endpoints, "the stack registered no webhook endpoint"
    for endpoint in endpoints:
        client.v1.webhook_endpoints.update(endpoint.id, {"disabled": True})
    try:
        yield
    finally:
        for endpoint in endpoints:
            client.v1.webhook_endpoints.update(endpoint.id, {"disabled": False})


def watermark_version(stack, account: str) -> int:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=f"{SERVICE_NAME}-recovery", Key=to_item({"account_id": account}))
        .get("Item")
    )
    return int(from_item(item)["version"]) if item else 0


def test_undelivered_payment_and_source_events_are_recovered_exactly_once(
    stack, platform_inbox, endpoint_disabled
):
    account, company = f"acct_1Rec{uuid.uuid4().hex[:12]}", f"recovery-{uuid.uuid4().hex[:8]}"
    stack.standin("/accounts", {"id": account})
    DynamoAccountStore(stack.client("dynamodb"), f"{SERVICE_NAME}-accounts").put(
        ConnectedAccount(account, company, False, datetime.now(UTC).isoformat())
    )
    # A customer pays by card; another's legacy ACH credit transfer Source becomes chargeable.
    card = stack.start_payment(amount=1500, company=company)
    stack.standin(f"/payment_intents/{card['payment_intent_id']}/pay", {"method": "card"})
    transfer = stack.start_payment(amount=1200, company=company)
    source = stack.standin(
        "/sources",
        {
            "account": account,
            "amount": 1200,
            "metadata": transfer["source_metadata"],
        },
    )["source"]
    stack.standin(f"/sources/{source['id']}/chargeable", {})

    paid = stack.wait_for_payment(card["payment_id"], "succeeded", timeout=60)
    charged = stack.wait_for_payment(transfer["payment_id"], "succeeded", timeout=60)
    stack.wait_until_queue_drained()

    records = stack.standin(f"/events?account={account}", method="GET")["data"]
    assert records and all(r["deliveries"] == [] for r in records), "a webhook was delivered"
    assert paid["amount_received"] == 1500
    assert (charged["source_id"], charged["amount_received"]) == (source["id"], 1200)
    source_charges = [
        r["event"]["data"]["object"]["id"]
        for r in records
        if r["event"]["type"] == "charge.succeeded"
        and (r["event"]["data"]["object"].get("source") or {}).get("id") == source["id"]
    ]
    assert source_charges == [charged["charge_id"]]  # the Source was charged once
    told = {
        p: [(n["status"], n["notification_id"]) for n in notifications(stack, platform_inbox, p)]
        for p in (card["payment_id"], transfer["payment_id"])
    }
    assert told == {
        card["payment_id"]: [("succeeded", f"{card['payment_id']}.v1")],
        transfer["payment_id"]: [("succeeded", f"{transfer['payment_id']}.v2")],
    }

    # Another scheduled run finds nothing new: nothing changes.
    runs = watermark_version(stack, account)
    wait_until(lambda: watermark_version(stack, account) > runs, 60, "another recovery run")
    stack.wait_until_queue_drained()
    assert stack.payment(card["payment_id"]) == paid
    assert stack.payment(transfer["payment_id"]) == charged
    records_after = stack.standin(f"/events?account={account}", method="GET")["data"]
    assert len(records_after) == len(records)  # no new charge, no new event at Stripe
    assert [
        n["notification_id"] for n in notifications(stack, platform_inbox, transfer["payment_id"])
    ] == [f"{transfer['payment_id']}.v2"]
    assert [
        n["notification_id"] for n in notifications(stack, platform_inbox, card["payment_id"])
    ] == [f"{card['payment_id']}.v1"]
