"""How the platform API shows the service's objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.payment_methods import SavedPaymentMethod, describe_payment_method
from chalicelib.domain.payments import Payment, describe
from chalicelib.domain.sweep import CheckSchedule

if TYPE_CHECKING:
    from chalicelib.services.payments import StartedPayment


def payment_view(payment: Payment, check: CheckSchedule | None = None) -> dict[str, Any]:
    view = {**describe(payment), "created_at": payment.created_at, "updated_at": payment.updated_at}
    if check is not None:
        view["check"] = check_view(check)
    return view


def check_view(check: CheckSchedule) -> dict[str, Any]:
    """When the sweep reads Stripe for the payment next, or why it does not."""
    return {"status": str(check.status), "next_check_at": check.next_check_at}


def history_view(payment: Payment, entries: list[HistoryEntry]) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "status": str(payment.status),
        "history": [entry.as_dict() for entry in entries],
    }


def started_payment_view(started: StartedPayment) -> dict[str, Any]:
    return {
        **payment_view(started.payment),
        "client_secret": started.client_secret,
        "source_metadata": started.source_metadata,
    }


def payment_method_view(method: SavedPaymentMethod) -> dict[str, Any]:
    return describe_payment_method(method)
