"""`ops payment show`: a payment as the platform API describes it, readable or as JSON."""

from chalicelib.adapters.dynamodb import DynamoPaymentStore
from chalicelib.domain.payments import InvoiceLine, Payment, PaymentStatus


def stored_payment(world) -> Payment:
    payment = Payment(
        payment_id="pay_0123456789abcdef",
        company_id="co_show",
        account_id="acct_1Show",
        amount=1500,
        currency="usd",
        invoices=(InvoiceLine("INV-1", 1000), InvoiceLine("INV-2", 500)),
        created_at="2026-12-03T10:00:00.000+00:00",
        status=PaymentStatus.FAILED,
        payment_intent_id="pi_show",
        failure_code="card_declined",
        failure_message="Your card was declined.",
    )
    store = DynamoPaymentStore(world.aws.client("dynamodb"), world.outputs["PaymentsTableName"])
    store.insert(payment)
    return payment


def test_as_json_it_is_the_payment_the_api_gives(world):
    payment = stored_payment(world)
    shown = world.ops_json("payment", "show", payment.payment_id)
    assert shown["payment"] == {
        "payment_id": payment.payment_id,
        "company_id": "co_show",
        "account_id": "acct_1Show",
        "status": "failed",
        "amount": 1500,
        "amount_received": 0,
        "amount_remaining": None,
        "currency": "usd",
        "invoices": [
            {"invoice_id": "INV-1", "amount": 1000},
            {"invoice_id": "INV-2", "amount": 500},
        ],
        "payment_intent_id": "pi_show",
        "charge_id": None,
        "source_id": None,
        "failure_code": "card_declined",
        "failure_message": "Your card was declined.",
        "payment_method_id": None,
        "duplicate_charges": [],
    }


def test_readable_it_shows_one_fact_a_line(world):
    payment = stored_payment(world)
    result = world.ops("payment", "show", payment.payment_id)
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("\n\n")[0].split("check:")[0].split("history:")[0]
    lines = [line.split(None, 1) for line in section.splitlines()[1:]]
    facts = {name: value for name, value in lines}
    assert result.stdout.splitlines()[0] == "payment:"
    assert facts["status"] == "failed"
    assert facts["invoices"] == "INV-1 1000, INV-2 500"
    assert facts["failure_message"] == "Your card was declined."
    assert facts["charge_id"] == "-"


def test_an_unknown_payment_is_said_so(world):
    result = world.ops("payment", "show", "pay_doesnotexist")
    assert result.returncode == 1
    assert result.stderr == "no payment pay_doesnotexist in stage dev\n"
