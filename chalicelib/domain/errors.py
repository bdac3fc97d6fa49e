"""Errors the domain raises; entry points map them to HTTP answers or message retries."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the service raises on purpose."""


class InvalidInput(DomainError):
    """A request field is missing or wrong; nothing was changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class Conflict(DomainError):
    """The request cannot be carried out in the current state."""


class CurrencyMismatch(DomainError):
    """Stripe reports another currency than the payment's: never apply it silently."""

    def __init__(self, payment_id: str, expected: str, seen: str) -> None:
        super().__init__(f"payment {payment_id} is in {expected} but Stripe reports {seen}")


class StripeUnavailable(DomainError):
    """Stripe could not be reached or failed on its side; trying again later may work."""


class StripeRejected(DomainError):
    """Stripe refused the request; trying again will not help."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ConcurrentUpdate(DomainError):
    """Someone else changed the record first; re-read and decide again."""


class WebhookRejected(DomainError):
    """The request is not a genuine, well-formed Stripe event for this endpoint."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class MalformedObject(DomainError):
    """A Stripe object lacks what the rules need: acting on it would be a guess."""


class MalformedEvent(DomainError):
    """A queued event that cannot be read: retrying it would fail the same way."""
