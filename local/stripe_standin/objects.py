"""Fresh Stripe API objects, each a deep copy of Stripe's own example with our values on top."""

from __future__ import annotations

import copy
import json
import secrets
import string
from pathlib import Path

# Stripe's example objects (see README.md for their origin); starting from them keeps every field
# a client may read present, even the ones the stand-in never changes.
_FIXTURES = json.loads((Path(__file__).with_name("fixtures.json")).read_text(encoding="utf-8"))

_ALPHABET = string.ascii_letters + string.digits

# What Stripe's test bank accounts and cards look like; the values are Stripe's public test data.
TEST_BANK = {"bank_name": "STRIPE TEST BANK", "routing_number": "110000000", "last4": "6789"}


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{random_token(length)}"


def fixture(kind: str, **fields) -> dict:
    obj = copy.deepcopy(_FIXTURES[kind])
    obj.update(fields)
    return obj


def account(*, account_id: str, email: str | None, business_name: str | None,
            created: int) -> dict:
    obj = fixture(
        "account", id=account_id, email=email, created=created, charges_enabled=True,
        payouts_enabled=True, details_submitted=True, type="standard",
    )
    obj["business_profile"]["name"] = business_name
    obj["settings"]["dashboard"]["display_name"] = business_name
    obj["external_accounts"]["url"] = f"/v1/accounts/{account_id}/external_accounts"
    requirements = obj["requirements"]
    requirements.update(currently_due=[], eventually_due=[], disabled_reason=None)
    return obj


def application(client_id: str, name: str) -> dict:
    return fixture("application", id=client_id, name=name)


def payment_intent(*, amount: int, currency: str, created: int, metadata: dict,
                   payment_method_types: list[str] | None, customer: str | None,
                   description: str | None, application_id: str | None) -> dict:
    pi_id = new_id("pi")
    automatic = None if payment_method_types else {"enabled": True, "allow_redirects": "always"}
    return fixture(
        "payment_intent",
        id=pi_id, amount=amount, currency=currency, created=created, metadata=metadata,
        customer=customer, description=description, application=application_id,
        client_secret=f"{pi_id}_secret_{random_token()}",
        automatic_payment_methods=automatic,
        payment_method_types=payment_method_types or ["card"],
        payment_method_configuration_details=None,
        status="requires_payment_method", amount_received=0, amount_capturable=0,
        canceled_at=None, cancellation_reason=None, last_payment_error=None,
        latest_charge=None, next_action=None, payment_method=None, processing=None,
        shipping=None, transfer_data=None, managed_payments=None, livemode=False,
    )


def payment_method_details(pm_type: str, *, three_d_secure: bool = False) -> dict:
    if pm_type == "card":
        card = copy.deepcopy(_FIXTURES["charge"]["payment_method_details"]["card"])
        card["wallet"] = None
        if three_d_secure:
            card["three_d_secure"].update(
                authentication_flow="challenge", result="authenticated", version="2.2.0")
        details: dict = card
    elif pm_type == "us_bank_account":
        details = {
            "account_holder_type": "individual", "account_type": "checking",
            "bank_name": TEST_BANK["bank_name"], "fingerprint": random_token(16),
            "last4": TEST_BANK["last4"], "routing_number": TEST_BANK["routing_number"],
            "mandate": new_id("mandate"),
        }
    elif pm_type == "sepa_debit":
        details = {
            "bank_code": "37040044", "branch_code": None, "country": "DE",
            "fingerprint": random_token(16), "last4": "3000", "mandate": new_id("mandate"),
        }
    else:
        details = {}
    return {"type": pm_type, pm_type: details}


def charge(*, amount: int, currency: str, created: int, status: str, metadata: dict,
           payment_intent: str | None, payment_method: str | None, details: dict,
           customer: str | None, description: str | None, application_id: str | None,
           source: dict | None = None) -> dict:
    ch_id = new_id("ch")
    obj = fixture(
        "charge",
        id=ch_id, amount=amount, currency=currency, created=created, metadata=dict(metadata),
        payment_intent=payment_intent, payment_method=payment_method,
        payment_method_details=details, customer=customer, description=description,
        application=application_id, source=source, receipt_url=None, shipping=None,
        transfer_data=None, livemode=False,
    )
    obj["refunds"]["url"] = f"/v1/charges/{ch_id}/refunds"
    set_charge_status(obj, status)
    return obj


def set_charge_status(obj: dict, status: str, *, failure_code: str | None = None,
                      failure_message: str | None = None) -> None:
    succeeded = status == "succeeded"
    obj.update(
        status=status, paid=succeeded, captured=succeeded,
        amount_captured=obj["amount"] if succeeded else 0,
        balance_transaction=new_id("txn") if succeeded else None,
        failure_code=failure_code, failure_message=failure_message,
    )
    if status == "failed":
        obj["outcome"] = {
            "network_status": "declined_by_network", "reason": failure_code,
            "risk_level": "normal", "seller_message": failure_message,
            "type": "issuer_declined", "advice_code": None, "network_advice_code": None,
            "network_decline_code": None,
        }
    else:
        obj["outcome"] = {
            "network_status": "approved_by_network", "reason": None, "risk_level": "normal",
            "seller_message": "Payment complete.", "type": "authorized", "advice_code": None,
            "network_advice_code": None, "network_decline_code": None,
        }


def source(*, source_type: str, amount: int | None, currency: str, created: int,
           metadata: dict, customer: str | None, email: str | None) -> dict:
    obj = fixture(
        "source",
        id=new_id("src"), client_secret=new_id("src_client_secret"), type=source_type,
        amount=amount, currency=currency, created=created, metadata=metadata, flow="receiver",
        status="pending", usage="reusable", livemode=False, customer=customer,
    )
    obj["owner"]["email"] = email
    details = obj["ach_credit_transfer"]
    details.update(account_number="test_" + secrets.token_hex(6),
                   fingerprint=random_token(16))
    obj["receiver"]["address"] = f"{details['routing_number']}-{details['account_number']}"
    return obj


def customer(*, email: str | None, created: int) -> dict:
    return fixture("customer", id=new_id("cus", 14), email=email, created=created,
                   discount=None, shipping=None, invoice_prefix=secrets.token_hex(4).upper())


def bank_account(*, customer_id: str) -> dict:
    return fixture("bank_account", id=new_id("ba"), customer=customer_id, status="new",
                   fingerprint=random_token(16), **TEST_BANK)


def webhook_endpoint(*, url: str, enabled_events: list[str], created: int,
                     api_version: str | None, description: str | None, metadata: dict,
                     application_id: str | None) -> dict:
    return fixture("webhook_endpoint", id=new_id("we"), url=url, enabled_events=enabled_events,
                   created=created, api_version=api_version, description=description,
                   metadata=metadata, status="enabled", livemode=False,
                   application=application_id)


def event(*, event_type: str, data: dict, created: int, api_version: str,
          account_id: str | None, request: dict | None) -> dict:
    obj = fixture("event", id=new_id("evt"), type=event_type, data=data, created=created,
                  api_version=api_version, livemode=False,
                  request=request or {"id": None, "idempotency_key": None})
    if account_id:
        obj["account"] = account_id
    return obj
