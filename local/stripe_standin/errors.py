"""Errors the stand-in answers with, shaped like Stripe's API and OAuth errors."""

from __future__ import annotations


class StripeError(Exception):
    """An API error: rendered as `{"error": {...}}` with `status` as the HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self) -> dict:
        error: dict = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        error.update(self.extra)
        return {"error": error}


class OAuthError(Exception):
    """An error of connect's OAuth endpoints, where `error` is a string, not an object."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def missing(param: str) -> StripeError:
    return StripeError(400, f"Missing required param: {param}.", code="parameter_missing",
                       param=param)


def invalid(param: str, message: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(400, message, code=code, param=param)


def no_such(kind: str, object_id: str, param: str = "id", status: int = 404) -> StripeError:
    return StripeError(status, f"No such {kind}: '{object_id}'", code="resource_missing",
                       param=param)



def no_access(api_key: str, account_id: str) -> StripeError:
    return StripeError(
        403,
        f"The provided key '{mask_key(api_key)}' does not have access to account "
        f"'{account_id}' (or that account does not exist). Application access may have "
        "been revoked.",
        code="account_invalid",
    )


def mask_key(api_key: str) -> str:
    if len(api_key) < 12:
        return "*" * len(api_key)
    return api_key[:8] + "*" * (len(api_key) - 12) + api_key[-4:]
