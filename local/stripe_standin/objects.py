"""Fresh Stripe API objects: the empty shapes of `shapes`, filled in with the stand-in's values."""

from __future__ import annotations

import secrets
import string
import time

from . import shapes

_ALPHABET = string.ascii_letters + string.digits

# What Stripe's test bank accounts and cards look like; the values are Stripe's public test data.
TEST_BANK = {"bank_name": "STRIPE TEST BANK", "routing_number": "110000000", "last4": "6789"}
TEST_CARD = {"brand": "visa", "network": "visa", "funding": "credit", "country": "US",
             "last4": "4242"}


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{random_token(length)}"


def account(*, account_id: str, email: str | None, business_name: str | None,
            created: int) -> dict:
    # Connected accounts are Standard accounts that finished onboarding on their own.
    obj = shapes.account(account_id)
    obj.update(email=email, created=created, charges_enabled=True, payouts_enabled=True,
               details_submitted=True, capabilities={"card_payments": "active",
                                                     "transfers": "active"})
    obj["business_profile"]["name"] = business_name
    obj["settings"]["dashboard"]["display_name"] = business_name
    return obj


def application(client_id: str, name: str) -> dict:
    return dict(shapes.application(client_id), name=name)


def payment_intent(*, amount: int, currency: str, created: int, metadata: dict,
                   payment_method_types: list[str] | None, customer: str | None,
                   description: str | None, application_id: str | None) -> dict:
    pi_id = new_id("pi")
    automatic = None if payment_method_types else {"enabled": True, "allow_redirects": "always"}
    obj = shapes.payment_intent(pi_id)
    obj.update(
        amount=amount, currency=currency, created=created, metadata=metadata,
        customer=customer, description=description, application=application_id,
        client_secret=f"{pi_id}_secret_{random_token()}",
        automatic_payment_methods=automatic,
        payment_method_types=payment_method_types or ["card"],
    )
    return obj


def payment_error(**fields) -> dict:
    return dict(shapes.payment_error(), **fields)


def payment_method_details(pm_type: str, *, three_d_secure: bool = False) -> dict:
    if pm_type == "card":
        details = shapes.card_details()
        details.update(TEST_CARD, fingerprint=random_token(16), exp_month=12,
                       exp_year=time.gmtime().tm_year + 3)
        details["checks"]["cvc_check"] = "pass"
        if three_d_secure:
            details["three_d_secure"] = dict(
                shapes.three_d_secure(), authentication_flow="challenge",
                result="authenticated", version="2.2.0")
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
    obj = shapes.charge(new_id("ch"))
    obj.update(
        amount=amount, currency=currency, created=created, metadata=dict(metadata),
        payment_intent=payment_intent, payment_method=payment_method,
        payment_method_details=details, customer=customer, description=description,
        application=application_id, source=source,
    )
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
    obj = shapes.source(new_id("src"), source_type)
    obj.update(client_secret=new_id("src_client_secret"), amount=amount, currency=currency,
               created=created, metadata=metadata, customer=customer)
    obj["owner"]["email"] = email
    details = obj[source_type]
    details.update(account_number="test_" + secrets.token_hex(6),
                   routing_number=TEST_BANK["routing_number"],
                   bank_name=TEST_BANK["bank_name"], fingerprint=random_token(16))
    receiver = obj["receiver"]
    receiver["address"] = f"{details['routing_number']}-{details['account_number']}"
    # Stripe asks the owner by email where to send refunds, when it has an address.
    if email:
        receiver["refund_attributes_method"] = "email"
    return obj


def customer(*, email: str | None, created: int) -> dict:
    obj = shapes.customer(new_id("cus", 14))
    obj.update(email=email, created=created, invoice_prefix=secrets.token_hex(4).upper())
    return obj


def bank_account(*, customer_id: str) -> dict:
    obj = shapes.bank_account(new_id("ba"))
    obj.update(TEST_BANK, customer=customer_id, fingerprint=random_token(16))
    return obj


def webhook_endpoint(*, url: str, enabled_events: list[str], created: int,
                     api_version: str | None, description: str | None, metadata: dict,
                     application_id: str | None) -> dict:
    obj = shapes.webhook_endpoint(new_id("we"))
    obj.update(url=url, enabled_events=enabled_events, created=created,
               api_version=api_version, description=description, metadata=metadata,
               application=application_id)
    return obj


def deleted_webhook_endpoint(endpoint_id: str) -> dict:
    return shapes.deleted_webhook_endpoint(endpoint_id)


def event(*, event_type: str, data: dict, created: int, api_version: str,
          account_id: str | None, request: dict | None) -> dict:
    obj = shapes.event(new_id("evt"))
    obj.update(type=event_type, data=data, created=created, api_version=api_version)
    if request:
        obj["request"] = request
    if account_id:
        obj["account"] = account_id
    return obj
