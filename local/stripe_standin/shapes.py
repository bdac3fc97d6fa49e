"""Empty Stripe objects: every top-level field Stripe sends for each type, with neutral values.

Clients read fields the stand-in never changes (and the SDK turns absent ones into
AttributeError), so each builder lists the whole field set; `objects` fills in real values.
tests/standin/test_shapes.py keeps the field sets in line with Stripe's published examples.
Nested objects carry only the fields a client plausibly reads.
"""

from __future__ import annotations


def _address() -> dict:
    return dict.fromkeys(("line1", "line2", "city", "state", "postal_code", "country"))


def _list(url: str) -> dict:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def _requirements() -> dict:
    return {
        "currently_due": [], "eventually_due": [], "past_due": [], "pending_verification": [],
        "errors": [], "alternatives": [], "current_deadline": None, "disabled_reason": None,
    }


def account(object_id: str) -> dict:
    return {
        "id": object_id, "object": "account", "type": "standard", "created": 0,
        "email": None, "country": "US", "default_currency": "usd", "business_type": None,
        "business_profile": {
            "name": None, "url": None, "mcc": None, "product_description": None,
            "support_email": None, "support_phone": None, "support_url": None,
            "support_address": _address(),
        },
        "capabilities": {},
        "charges_enabled": False, "payouts_enabled": False, "details_submitted": False,
        "controller": {"type": "account"},
        "external_accounts": _list(f"/v1/accounts/{object_id}/external_accounts"),
        "requirements": _requirements(), "future_requirements": _requirements(),
        "settings": {
            "branding": dict.fromkeys(("icon", "logo", "primary_color", "secondary_color")),
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": None},
            "payouts": {"debit_negative_balances": True, "statement_descriptor": None,
                        "schedule": {"interval": "daily", "delay_days": 2}},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "metadata": {},
    }


def application(object_id: str) -> dict:
    return {"id": object_id, "object": "application", "name": None}


def payment_intent(object_id: str) -> dict:
    return {
        "id": object_id, "object": "payment_intent", "livemode": False, "created": 0,
        "status": "requires_payment_method", "client_secret": None,
        "amount": 0, "currency": "usd", "amount_capturable": 0, "amount_received": 0,
        "amount_details": {"tip": {}},
        "capture_method": "automatic", "confirmation_method": "automatic",
        "automatic_payment_methods": None, "payment_method_types": [],
        "excluded_payment_method_types": None, "payment_method_options": {},
        "payment_method_configuration_details": None, "payment_method": None,
        "setup_future_usage": None, "managed_payments": None,
        "next_action": None, "processing": None, "last_payment_error": None,
        "latest_charge": None, "canceled_at": None, "cancellation_reason": None,
        "customer": None, "customer_account": None, "description": None, "metadata": {},
        "receipt_email": None, "shipping": None, "review": None, "source": None,
        "statement_descriptor": None, "statement_descriptor_suffix": None,
        "application": None, "application_fee_amount": None, "on_behalf_of": None,
        "transfer_data": None, "transfer_group": None,
    }


def payment_error() -> dict:
    """`last_payment_error`: the keys Stripe's API errors carry, so `.get` is never needed."""
    return dict.fromkeys((
        "type", "code", "decline_code", "message", "param", "doc_url", "charge",
        "payment_method", "payment_method_type",
    ))


def charge(object_id: str) -> dict:
    return {
        "id": object_id, "object": "charge", "livemode": False, "created": 0,
        "status": "pending", "paid": False, "captured": False, "refunded": False,
        "disputed": False,
        "amount": 0, "currency": "usd", "amount_captured": 0, "amount_refunded": 0,
        "balance_transaction": None, "failure_balance_transaction": None,
        "failure_code": None, "failure_message": None, "outcome": None,
        "fraud_details": {}, "review": None,
        "payment_intent": None, "payment_method": None,
        "payment_method_details": None, "source": None,
        "billing_details": {"address": _address(), "email": None, "name": None,
                            "phone": None, "tax_id": None},
        "customer": None, "description": None, "metadata": {}, "shipping": None,
        "receipt_email": None, "receipt_number": None, "receipt_url": None,
        "refunds": _list(f"/v1/charges/{object_id}/refunds"),
        "statement_descriptor": None, "statement_descriptor_suffix": None,
        "calculated_statement_descriptor": None,
        "application": None, "application_fee": None, "application_fee_amount": None,
        "on_behalf_of": None, "source_transfer": None, "transfer_data": None,
        "transfer_group": None,
    }


def card_details() -> dict:
    """`payment_method_details.card` of a charge."""
    return {
        "brand": None, "network": None, "funding": None, "country": None, "last4": None,
        "exp_month": None, "exp_year": None, "fingerprint": None,
        "checks": dict.fromkeys(("address_line1_check", "address_postal_code_check",
                                 "cvc_check")),
        "three_d_secure": None, "wallet": None, "mandate": None,
        "amount_authorized": None, "authorization_code": None, "network_transaction_id": None,
    }


def three_d_secure() -> dict:
    return dict.fromkeys(("authentication_flow", "result", "result_reason", "version",
                          "electronic_commerce_indicator", "transaction_id"))


def _ach_credit_transfer() -> dict:
    return dict.fromkeys(("account_number", "routing_number", "bank_name", "swift_code",
                          "fingerprint"))


# What each Source type carries under its own name; only the types the stand-in issues.
_SOURCE_DETAILS = {"ach_credit_transfer": _ach_credit_transfer}


def source(object_id: str, source_type: str) -> dict:
    return {
        "id": object_id, "object": "source", "livemode": False, "created": 0,
        "type": source_type, source_type: _SOURCE_DETAILS[source_type](),
        "status": "pending", "flow": "receiver", "usage": "reusable",
        "amount": None, "currency": "usd", "client_secret": None, "metadata": {},
        "allow_redisplay": None, "statement_descriptor": None,
        "owner": {
            "name": None, "email": None, "phone": None, "address": _address(),
            "verified_name": None, "verified_email": None, "verified_phone": None,
            "verified_address": _address(),
        },
        "receiver": {
            "address": None, "amount_charged": 0, "amount_received": 0, "amount_returned": 0,
            "refund_attributes_method": "none", "refund_attributes_status": "missing",
        },
    }


def customer(object_id: str) -> dict:
    return {
        "id": object_id, "object": "customer", "livemode": False, "created": 0,
        "email": None, "name": None, "phone": None, "description": None,
        "address": None, "shipping": None, "metadata": {},
        "balance": 0, "currency": None, "default_source": None, "delinquent": False,
        "discount": None, "invoice_prefix": None, "next_invoice_sequence": 1,
        "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                             "footer": None, "rendering_options": None},
        "preferred_locales": [], "tax_exempt": "none", "test_clock": None,
    }


def bank_account(object_id: str) -> dict:
    return {
        "id": object_id, "object": "bank_account", "customer": None, "status": "new",
        "account_holder_name": None, "account_holder_type": None, "account_type": None,
        "bank_name": None, "routing_number": None, "last4": None, "fingerprint": None,
        "country": "US", "currency": "usd", "metadata": {},
    }


def webhook_endpoint(object_id: str) -> dict:
    return {
        "id": object_id, "object": "webhook_endpoint", "livemode": False, "created": 0,
        "url": None, "enabled_events": [], "status": "enabled", "api_version": None,
        "description": None, "metadata": {}, "application": None,
    }


def deleted_webhook_endpoint(object_id: str) -> dict:
    return {"id": object_id, "object": "webhook_endpoint", "deleted": True}


def event(object_id: str) -> dict:
    return {
        "id": object_id, "object": "event", "livemode": False, "created": 0, "type": None,
        "api_version": None, "data": {"object": None}, "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
    }
