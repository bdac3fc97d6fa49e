"""How the platform API shows the service's objects."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.payment_methods import SavedPaymentMethod
from chalicelib.domain.payments import Payment


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "company_id": payment.company_id,
        "account_id": payment.account_id,
        "status": str(payment.status),
        "amount": payment.amount,
        "amount_received": payment.amount_received,
        "amount_remaining": payment.amount_remaining,
        "currency": payment.currency,
        "invoices": [{"invoice_id": i.invoice_id, "amount": i.amount} for i in payment.invoices],
        "payment_intent_id": payment.payment_intent_id,
        "charge_id": payment.charge_id,
        "source_id": payment.source_id,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }


def payment_method_view(method: SavedPaymentMethod) -> dict[str, Any]:
    return {
        "account_id": method.account_id,
        "payment_method_id": method.payment_method_id,
        "type": method.type,
        "status": method.status,
        "customer_id": method.customer_id,
        "bank_name": method.bank_name,
        "last4": method.last4,
        "country": method.country,
        "currency": method.currency,
        "updated_at": method.updated_at,
    }
