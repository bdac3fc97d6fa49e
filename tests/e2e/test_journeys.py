"""Customer journeys through the running local stack, each repaired from Stripe's webhooks alone.

The customer is played on the Stripe stand-in; the platform only starts the payment and reads
it back (and its notifications on the bus).
"""

import pytest

from chalicelib.adapters.dynamodb import DynamoAccountStore
from chalicelib.domain.accounts import ConnectedAccount
from local.stack import DEMO_ACCOUNT, SERVICE_NAME
from tests.e2e.conftest import call, notifications, wait_until

pytestmark = pytest.mark.e2e


def told(stack, inbox, payment_id):
    return [
        (n["status"], n["notification_id"].rsplit(".", 1)[1])
        for n in notifications(stack, inbox, payment_id)
    ]


def test_an_ach_debit_is_processing_then_succeeds(stack, platform_inbox):
    started = stack.start_payment(amount=2500)
    pi = started["payment_intent_id"]
    stack.standin(f"/payment_intents/{pi}/pay", {"method": "us_bank_account"})
    stack.wait_for_payment(started["payment_id"], "processing")
    stack.standin(f"/payment_intents/{pi}/settle", {})

    payment = stack.wait_for_payment(started["payment_id"], "succeeded")
    assert (payment["amount_received"], payment["amount_remaining"]) == (2500, 0)
    assert told(stack, platform_inbox, started["payment_id"]) == [
        ("processing", "v1"),
        ("succeeded", "v2"),
    ]


def test_a_failed_sepa_debit_then_a_retry_that_succeeds(stack, platform_inbox):
    started = stack.start_payment(amount=4000, currency="eur")
    pi = started["payment_intent_id"]
    stack.standin(f"/payment_intents/{pi}/pay", {"method": "sepa_debit"})
    stack.wait_for_payment(started["payment_id"], "processing")
    stack.standin(f"/payment_intents/{pi}/fail", {"code": "insufficient_funds"})
    failed = stack.wait_for_payment(started["payment_id"], "failed")
    assert failed["failure_code"] == "insufficient_funds" and failed["failure_message"]

    stack.standin(f"/payment_intents/{pi}/pay", {"method": "sepa_debit"})
    retried = stack.wait_for_payment(started["payment_id"], "processing")
    assert retried["charge_id"] != failed["charge_id"] and retried["failure_code"] is None
    stack.standin(f"/payment_intents/{pi}/settle", {})

    payment = stack.wait_for_payment(started["payment_id"], "succeeded")
    assert (payment["amount_received"], payment["charge_id"]) == (4000, retried["charge_id"])
    assert told(stack, platform_inbox, started["payment_id"]) == [
        ("processing", "v1"),
        ("failed", "v2"),
        ("processing", "v3"),
        ("succeeded", "v4"),
    ]


def test_a_bank_transfer_in_two_parts(stack, platform_inbox):
    started = stack.start_payment(amount=1500)
    pi = started["payment_intent_id"]
    stack.standin(f"/payment_intents/{pi}/pay", {"method": "customer_balance"})
    stack.standin(f"/payment_intents/{pi}/fund", {"amount": 600})
    partly = stack.wait_for_payment(started["payment_id"], "partially_funded")
    assert (partly["amount_received"], partly["amount_remaining"]) == (600, 900)
    stack.standin(f"/payment_intents/{pi}/fund", {})

    payment = stack.wait_for_payment(started["payment_id"], "succeeded")
    assert (payment["amount_received"], payment["amount_remaining"]) == (1500, 0)
    assert told(stack, platform_inbox, started["payment_id"]) == [
        ("partially_funded", "v1"),
        ("succeeded", "v2"),
    ]


def test_a_legacy_ach_credit_transfer_source_is_charged_and_completes_the_payment(
    stack, platform_inbox
):
    started = stack.start_payment(amount=1200)
    # The platform's checkout made the Source for this payment, with the metadata the service
    # signed for it.
    source = stack.standin(
        "/sources",
        {"account": DEMO_ACCOUNT, "amount": 1200, "metadata": started["source_metadata"]},
    )["source"]
    stack.standin(f"/sources/{source['id']}/chargeable", {})  # the customer's transfer arrived

    payment = stack.wait_for_payment(started["payment_id"], "succeeded")
    assert (payment["source_id"], payment["amount_received"]) == (source["id"], 1200)
    assert payment["charge_id"].startswith("ch_")
    stack.wait_until_queue_drained()
    charges = [
        record["event"]["data"]["object"]
        for record in stack.standin(
            f"/events?account={DEMO_ACCOUNT}&type=charge.succeeded", method="GET"
        )["data"]
        if (record["event"]["data"]["object"].get("source") or {}).get("id") == source["id"]
    ]
    assert [c["id"] for c in charges] == [payment["charge_id"]]
    assert told(stack, platform_inbox, started["payment_id"]) == [("succeeded", "v2")]
    # One payment, one settlement: its card PaymentIntent can no longer take money.
    pay_again = call(
        "POST",
        f"{stack.stripe}/_standin/payment_intents/{started['payment_intent_id']}/pay",
        {"method": "card"},
    )
    assert pay_again[0] == 400


def test_a_verified_bank_account_is_offered_to_the_platform(stack):
    made = stack.standin("/customers", {"account": DEMO_ACCOUNT, "email": "payer@example.com"})
    customer, bank_account = made["customer"]["id"], made["bank_account"]["id"]
    path = f"/payment-methods/{DEMO_ACCOUNT}/{bank_account}"
    assert stack.platform("GET", path)[0] == 404  # nothing heard of it yet

    stack.standin(f"/customers/{customer}/sources/{bank_account}/verify", {"result": "verified"})

    def verified():
        status, body = stack.platform("GET", path)
        return body if status == 200 and body["status"] == "verified" else None

    method = wait_until(verified, 30, "the bank account to be verified")
    assert (method["customer_id"], method["type"], method["last4"]) == (
        customer,
        "bank_account",
        "6789",
    )


def test_an_account_that_revokes_the_platform_is_disconnected(stack):
    account, company = "acct_1E2eLeaving", "leaving-company"
    stack.standin("/accounts", {"id": account})
    accounts = DynamoAccountStore(stack.client("dynamodb"), f"{SERVICE_NAME}-accounts")
    accounts.put(ConnectedAccount(account, company, False, "2026-11-29T00:00:00.000+00:00"))
    stack.start_payment(amount=800, company=company)

    stack.standin(f"/accounts/{account}/deauthorize", {})

    def refused():
        status, body = stack.platform(
            "POST",
            "/payments",
            {
                "company_id": company,
                "amount": 800,
                "currency": "usd",
                "invoices": [{"invoice_id": "INV-1", "amount": 800}],
            },
        )
        return body if status == 409 else None

    wait_until(refused, 30, "the disconnected account to refuse new payments")
    assert not accounts.get(account).has_access
