"""HTTP concerns of the platform API: bearer authentication, JSON bodies, error answers."""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Response

from chalicelib import wiring
from chalicelib.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    StripeRejected,
    StripeUnavailable,
    WebhookRejected,
)
from chalicelib.domain.json_input import parse_json
from chalicelib.domain.webhooks import (
    OUTCOME_METRICS,
    REJECTED_MALFORMED_METRIC,
    REJECTION_METRICS,
)
from chalicelib.observability import count, logger
from chalicelib.services.ingest import EnqueueFailed
from chalicelib.settings import DEPLOYED_STAGES, SettingsError


def error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    return Response(
        body={"error": {"code": code, "message": message, **extra}},
        status_code=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


# Chalice's own answers (415, 405, a view's ChaliceViewError, its 500) carry {"Code", "Message"}.
_FRAMEWORK_ERROR_KEYS = {"Code", "Message"}
_FRAMEWORK_CODES = {
    "BadRequest": "invalid_request",
    "BadRequestError": "invalid_request",
    "InternalServerError": "internal_error",
    "ChaliceViewError": "internal_error",
}


def service_errors(routes: Mapping[str, Any]) -> Callable[[Any, Callable[[Any], Any]], Any]:
    """Middleware: every answer Chalice makes itself speaks the service's error shape.

    A request for a resource the app does not declare (API Gateway with a proxy resource, or a
    misrouted event) would otherwise make Chalice raise a KeyError and answer a bare 500.
    """

    def middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
        resource = ((getattr(event, "context", None) or {}).get("resourcePath")) if event else None
        if resource not in routes:
            return error(404, "not_found", "no such route")
        response = get_response(event)
        body = response.body
        if isinstance(body, dict) and set(body) == _FRAMEWORK_ERROR_KEYS:
            return error(
                response.status_code,
                _framework_code(str(body["Code"])),
                str(body["Message"]),
                headers=response.headers,
            )
        return response

    return middleware


def _framework_code(name: str) -> str:
    if name in _FRAMEWORK_CODES:
        return _FRAMEWORK_CODES[name]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Error")).lower()


def json_body(raw_body: bytes) -> Any:
    try:
        return parse_json(raw_body or b"null")
    except ValueError:
        raise InvalidInput("body", "is not valid JSON") from None


def platform_endpoint(current_request: Callable[[], Any]) -> Callable[..., Any]:
    """Decorator for platform API routes: bearer token first, then domain errors as JSON."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _authorized(current_request().headers.get("authorization")):
                return error(401, "unauthorized", "a valid bearer token is required")
            try:
                return view(*args, **kwargs)
            except InvalidInput as failure:
                return error(400, "invalid_request", failure.message, field=failure.field)
            except NotFound as failure:
                return error(404, "not_found", str(failure))
            except Conflict as failure:
                return error(409, "conflict", str(failure))
            except StripeRejected as failure:
                logger.warning("Stripe refused the request", extra={"stripe_code": failure.code})
                return error(502, "stripe_rejected", str(failure), stripe_code=failure.code)
            except StripeUnavailable as failure:
                logger.warning("Stripe unavailable", extra={"reason": str(failure)})
                return error(503, "stripe_unavailable", "Stripe is unavailable; try again")

        return wrapper

    return decorate


def _authorized(header: str | None) -> bool:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    expected = wiring.secrets().get(wiring.SECRET_PLATFORM_TOKEN)
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def public_base_url(current_request: Any) -> str:
    """The service's public URL: PUBLIC_BASE_URL, which every deployed stage must set.

    Only a stage run on a developer's machine may leave it out; it then answers on the address
    the request came in on. A deployed stage never does: the Host header is the caller's choice.
    """
    config = wiring.settings()
    if config.public_base_url:
        return config.public_base_url
    if config.stage in DEPLOYED_STAGES:
        raise SettingsError(f"PUBLIC_BASE_URL is required in stage {config.stage}")
    headers = current_request.headers
    host = headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto", "https")
    stage = (current_request.context or {}).get("stage")
    # API Gateway's own domain carries the stage in the path; a custom domain does not.
    prefix = f"/{stage}" if stage and host.endswith(".amazonaws.com") else ""
    return f"{scheme}://{host}{prefix}"


def webhook_response(run: Callable[[], Any]) -> Response:
    """Run one webhook ingest and answer Stripe: 200, 400 with a short reason, or 503."""
    try:
        result = run()
    except WebhookRejected as rejected:
        count(REJECTION_METRICS.get(rejected.reason, REJECTED_MALFORMED_METRIC))
        # Never the body or the header: an attacker's input, and possibly a secret's HMAC.
        logger.warning("webhook rejected", extra={"reason": rejected.reason})
        return error(400, rejected.reason, rejected.detail)
    except EnqueueFailed as failed:
        count("WebhookEnqueueFailed")
        logger.exception(
            "event not queued; Stripe will retry", extra={"event_id": failed.envelope.event_id}
        )
        return error(503, "unavailable", "the event could not be queued; retry later")
    envelope = result.envelope
    logger.append_keys(
        event_id=envelope.event_id, event_type=envelope.type, account=envelope.account
    )
    count(OUTCOME_METRICS[result.verdict])
    logger.info("webhook accepted", extra={"outcome": str(result.verdict)})
    return Response(body={"received": True, "outcome": str(result.verdict)}, status_code=200)
