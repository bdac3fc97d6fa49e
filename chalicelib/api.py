"""How the platform API shows the service's objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.domain.payment_methods import SavedPaymentMethod, describe_payment_method
from chalicelib.domain.payments import Payment, describe

if TYPE_CHECKING:
    from chalicelib.services.payments import StartedPayment


def payment_view(payment: Payment) -> dict[str, Any]:
    return {**describe(payment), "created_at": payment.created_at, "updated_at": payment.updated_at}


def started_payment_view(started: StartedPayment) -> dict[str, Any]:
    return {
        **payment_view(started.payment),
        "client_secret": started.client_secret,
        "source_metadata": started.source_metadata,
    }


def payment_method_view(method: SavedPaymentMethod) -> dict[str, Any]:
    return describe_payment_method(method)
