"""The stand-in's objects have the top-level fields of Stripe's own example objects.

Stripe's examples live outside the repository (`shared/stripe/openapi-fixtures3.json` next to
it, or wherever `STRIPE_FIXTURES` points). A missing file fails the run rather than skipping,
so a drift from Stripe's field sets cannot pass unnoticed.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
import stripe

from local.stripe_standin import StripeStandin

from .conftest import API_KEY, CLIENT_ID, Control

DEFAULT_EXAMPLES = (
    Path(__file__).resolve().parents[3] / "shared" / "stripe" / "openapi-fixtures3.json"
)
ACCOUNT = {"stripe_account": "acct_shapes"}

# Fields the stand-in sends that Stripe's examples leave out, each one on purpose.
EXTRA_FIELDS = {
    # Sources made for a customer name it, as Stripe's do; the example belongs to nobody.
    "source": {"customer"},
    # Events of a connected account name the account, as Stripe's Connect events do; the
    # example is a platform event.
    "event": {"account"},
    # Stripe shows the signing secret once, in the answer to the create call.
    "webhook_endpoint": {"secret"},
}


def _examples_path() -> Path:
    return Path(os.environ.get("STRIPE_FIXTURES") or DEFAULT_EXAMPLES)


@functools.cache
def _load(path: Path) -> dict:
    if not path.is_file():
        pytest.fail(
            f"Stripe's example objects are missing: {path} does not exist. Put Stripe's "
            f"openapi/fixtures3.json there, or point STRIPE_FIXTURES at a copy.",
            pytrace=False,
        )
    return json.loads(path.read_text(encoding="utf-8"))["resources"]


def stripe_example(kind: str) -> dict:
    examples = _load(_examples_path())
    assert kind in examples, f"{_examples_path()} has no example of {kind!r}"
    return examples[kind]


def _plain(obj) -> dict:
    return obj.to_dict() if isinstance(obj, stripe.StripeObject) else obj


@pytest.fixture(scope="module")
def produced() -> dict[str, tuple[str, dict]]:
    """One object per type and state, as a client of the stand-in receives it."""
    with StripeStandin(
        port=0, api_key=API_KEY, client_id=CLIENT_ID, retry_delays=(0.01,), delivery_timeout=1.0
    ) as standin:
        client = stripe.StripeClient(
            API_KEY,
            client_id=CLIENT_ID,
            base_addresses={"api": standin.url, "connect": standin.url},
        )
        control = Control(standin.url)
        control.account("acct_shapes", email="shapes@example.com", business_name="Shapes")
        acct = ACCOUNT["stripe_account"]

        def pay(method: str, **body) -> stripe.PaymentIntent:
            pi = client.v1.payment_intents.create({"amount": 700, "currency": "usd"}, ACCOUNT)
            if method:
                control.post(f"/_standin/payment_intents/{pi.id}/pay", {"method": method, **body})
            return client.v1.payment_intents.retrieve(pi.id, options=ACCOUNT)

        def charge_of(pi: stripe.PaymentIntent) -> stripe.Charge:
            return client.v1.charges.retrieve(pi.latest_charge, options=ACCOUNT)

        # Nothing listens there: deliveries fail fast, which is all the shape checks need.
        endpoint = client.v1.webhook_endpoints.create(
            {"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"], "connect": True}
        )
        doomed = client.v1.webhook_endpoints.create(
            {"url": "http://127.0.0.1:9/doomed", "enabled_events": ["*"]}
        )

        fresh = pay("")
        card = pay("card")
        declined = pay("card", outcome="declined")
        three_ds = pay("card_3ds")
        abandoned = pay("card_3ds", outcome="abandoned")
        debit = pay("us_bank_account")
        transfer = pay("customer_balance")

        customer = control.post("/_standin/customers", {"account": acct})
        cus_id, ba_id = customer["customer"]["id"], customer["bank_account"]["id"]
        control.post(f"/_standin/customers/{cus_id}/sources/{ba_id}/verify", {"result": "verified"})
        source = control.post(
            "/_standin/sources", {"account": acct, "amount": 900, "email": "payer@example.com"}
        )["source"]
        control.post(f"/_standin/sources/{source['id']}/chargeable")
        source_charge = client.v1.charges.create(
            {"amount": 900, "currency": "usd", "source": source["id"]}, ACCOUNT
        )

        revoked = control.post("/_standin/accounts/acct_shapes/deauthorize")
        control.account("acct_shapes")
        deauthorized = client.v1.events.retrieve(revoked["events"][0], options=ACCOUNT)
        client.v1.payment_intents.create({"amount": 100, "currency": "usd"})

        objects = {
            "payment_intent (new)": ("payment_intent", fresh),
            "payment_intent (card)": ("payment_intent", card),
            "payment_intent (declined)": ("payment_intent", declined),
            "payment_intent (3-D Secure)": ("payment_intent", three_ds),
            "payment_intent (awaiting 3-D Secure)": ("payment_intent", abandoned),
            "payment_intent (bank debit)": ("payment_intent", debit),
            "payment_intent (bank transfer)": ("payment_intent", transfer),
            "charge (card)": ("charge", charge_of(card)),
            "charge (declined)": ("charge", charge_of(declined)),
            "charge (3-D Secure)": ("charge", charge_of(three_ds)),
            "charge (bank debit)": ("charge", charge_of(debit)),
            "charge (source)": ("charge", source_charge),
            "source": ("source", client.v1.sources.retrieve(source["id"], options=ACCOUNT)),
            "customer": ("customer", client.v1.customers.retrieve(cus_id, options=ACCOUNT)),
            "bank_account": (
                "bank_account",
                client.v1.customers.payment_sources.retrieve(cus_id, ba_id, options=ACCOUNT),
            ),
            "event (connected account)": ("event", deauthorized),
            "event (platform)": ("event", client.v1.events.list({"limit": 1}).data[0]),
            "application": ("application", deauthorized.data.object),
            "webhook_endpoint (created)": ("webhook_endpoint", endpoint),
            "webhook_endpoint": (
                "webhook_endpoint",
                client.v1.webhook_endpoints.retrieve(endpoint.id),
            ),
            "deleted_webhook_endpoint": (
                "deleted_webhook_endpoint",
                client.v1.webhook_endpoints.delete(doomed.id),
            ),
            "account (connected)": ("account", client.v1.accounts.retrieve("acct_shapes")),
            "account (platform)": ("account", client.v1.accounts.retrieve_current()),
        }
        return {label: (kind, _plain(obj)) for label, (kind, obj) in objects.items()}


CASES = [
    "payment_intent (new)",
    "payment_intent (card)",
    "payment_intent (declined)",
    "payment_intent (3-D Secure)",
    "payment_intent (awaiting 3-D Secure)",
    "payment_intent (bank debit)",
    "payment_intent (bank transfer)",
    "charge (card)",
    "charge (declined)",
    "charge (3-D Secure)",
    "charge (bank debit)",
    "charge (source)",
    "source",
    "customer",
    "bank_account",
    "event (connected account)",
    "event (platform)",
    "application",
    "webhook_endpoint (created)",
    "webhook_endpoint",
    "deleted_webhook_endpoint",
    "account (connected)",
    "account (platform)",
]


@pytest.mark.parametrize("label", CASES)
def test_top_level_fields_match_stripes_example(produced, label):
    kind, ours = produced[label]
    example = stripe_example(kind)
    theirs = set(example)

    missing = sorted(theirs - set(ours))
    extra = sorted(set(ours) - theirs - EXTRA_FIELDS.get(kind, set()))
    assert not missing, f"{label}: fields Stripe sends that the stand-in lacks: {missing}"
    assert not extra, (
        f"{label}: fields Stripe's example lacks: {extra} (add them to "
        f"EXTRA_FIELDS with the reason, if deliberate)"
    )
    assert ours["object"] == example["object"]


def test_every_case_is_checked(produced):
    assert sorted(produced) == sorted(CASES)


def test_extra_fields_are_still_extra():
    """An allowance Stripe's example has caught up with only hides future drift."""
    for kind, fields in EXTRA_FIELDS.items():
        assert not fields & set(stripe_example(kind)), kind


def test_missing_examples_fail_loudly(monkeypatch, tmp_path):
    monkeypatch.setenv("STRIPE_FIXTURES", str(tmp_path / "nowhere.json"))
    with pytest.raises(pytest.fail.Exception, match="STRIPE_FIXTURES"):
        stripe_example("charge")
