"""Validation of the platform's requests to start a payment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.payments import InvoiceLine

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_CURRENCY = re.compile(r"[a-z]{3}")
MAX_AMOUNT = 99_999_999  # Stripe's upper bound for most currencies, in minor units
MAX_INVOICES = 100
_FIELDS = {"company_id", "amount", "currency", "invoices", "description"}


@dataclass(frozen=True)
class StartPayment:
    company_id: str
    amount: int
    currency: str
    invoices: tuple[InvoiceLine, ...]
    description: str | None = None


def parse_start_payment(body: Any) -> StartPayment:
    """A validated request, or InvalidInput naming the first wrong field."""
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidInput(unknown[0], "is not a known field")
    company_id = parse_id(body.get("company_id"), "company_id")
    amount = _amount(body.get("amount"), "amount")
    currency = body.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency.lower()):
        raise InvalidInput("currency", "must be a three-letter ISO currency code")
    invoices = _invoices(body.get("invoices"))
    if sum(line.amount for line in invoices) != amount:
        raise InvalidInput("invoices", "amounts must add up to the payment amount")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 500):
        raise InvalidInput("description", "must be a string of at most 500 characters")
    return StartPayment(company_id, amount, currency.lower(), invoices, description)


def parse_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(field, "must be 1-64 letters, digits or _.:- characters")
    return value


def _amount(value: Any, field: str) -> int:
    # bool is an int in Python; an amount of True is a client bug, not one cent.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, "must be an integer amount in the currency's minor unit")
    if not 0 < value <= MAX_AMOUNT:
        raise InvalidInput(field, f"must be between 1 and {MAX_AMOUNT}")
    return value


def _invoices(value: Any) -> tuple[InvoiceLine, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("invoices", "must be a non-empty list")
    if len(value) > MAX_INVOICES:
        raise InvalidInput("invoices", f"must hold at most {MAX_INVOICES} invoices")
    lines = []
    for index, item in enumerate(value):
        where = f"invoices[{index}]"
        if not isinstance(item, dict) or set(item) != {"invoice_id", "amount"}:
            raise InvalidInput(where, "must be an object with invoice_id and amount")
        lines.append(
            InvoiceLine(
                parse_id(item["invoice_id"], f"{where}.invoice_id"),
                _amount(item["amount"], f"{where}.amount"),
            )
        )
    if len({line.invoice_id for line in lines}) != len(lines):
        raise InvalidInput("invoices", "must not list an invoice twice")
    return tuple(lines)
