"""Stripe through the official SDK: PaymentIntents on connected accounts, webhook verification."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import stripe

from chalicelib.domain.errors import StripeRejected, StripeUnavailable, WebhookRejected
from chalicelib.domain.json_input import parse_json
from chalicelib.domain.webhooks import SIGNATURE_TOLERANCE_SECONDS

# The API version the SDK is pinned to; webhook endpoints are created with the same one so
# that event payloads have the shapes the SDK and the service expect.
API_VERSION: str = stripe.api_version


def make_client(
    secret_key: str,
    *,
    api_base: str | None = None,
    client_id: str | None = None,
    timeout_seconds: float = 10.0,
    max_network_retries: int = 2,
) -> stripe.StripeClient:
    """A StripeClient with Lambda-sized timeouts, pointed at api_base when one is given."""
    base_addresses: Any = {"api": api_base, "connect": api_base} if api_base else None
    return stripe.StripeClient(
        secret_key,
        client_id=client_id,
        base_addresses=base_addresses,
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout_seconds),
    )


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeUnavailable(f"Stripe unreachable: {_described(error)}") from None
    except stripe.StripeError as error:
        status = error.http_status or 0
        if status >= 500 or isinstance(error, stripe.APIError):
            raise StripeUnavailable(f"Stripe failed ({status}): {_described(error)}") from None
        # Some error classes (PermissionError) leave `code` unset; the body always has it.
        code = error.code or getattr(error.error, "code", None)
        raise StripeRejected(
            f"Stripe refused the request: {_described(error)}", code=code, status=status
        ) from None


def _described(error: stripe.StripeError) -> str:
    """What went wrong without Stripe's own words, which may quote the (masked) secret key."""
    param = getattr(error, "param", None)
    parts = [
        type(error).__name__,
        *([error.code] if error.code else []),
        *([f"param {param}"] if param else []),
        *([f"request {error.request_id}"] if error.request_id else []),
    ]
    return ", ".join(parts)


class StripeApi:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    def create_payment_intent(
        self, account_id: str, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        with _translated_errors():
            intent = self._client.v1.payment_intents.create(
                dict(params),  # type: ignore[arg-type]
                {"stripe_account": account_id, "idempotency_key": idempotency_key},
            )
        return intent.to_dict()

    def retrieve_payment_intent(self, account_id: str, payment_intent_id: str) -> dict[str, Any]:
        with _translated_errors():
            intent = self._client.v1.payment_intents.retrieve(
                payment_intent_id, options={"stripe_account": account_id}
            )
        return intent.to_dict()

    def cancel_payment_intent(self, account_id: str, payment_intent_id: str) -> dict[str, Any]:
        with _translated_errors():
            intent = self._client.v1.payment_intents.cancel(
                payment_intent_id,
                {"cancellation_reason": "duplicate"},
                {"stripe_account": account_id},
            )
        return intent.to_dict()

    def retrieve_charge(self, account_id: str, charge_id: str) -> dict[str, Any]:
        with _translated_errors():
            charge = self._client.v1.charges.retrieve(
                charge_id, options={"stripe_account": account_id}
            )
        return charge.to_dict()

    def retrieve_source(self, account_id: str, source_id: str) -> dict[str, Any]:
        with _translated_errors():
            source = self._client.v1.sources.retrieve(
                source_id, options={"stripe_account": account_id}
            )
        return source.to_dict()

    def create_charge(
        self, account_id: str, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        with _translated_errors():
            charge = self._client.v1.charges.create(
                dict(params),  # type: ignore[arg-type]
                {"stripe_account": account_id, "idempotency_key": idempotency_key},
            )
        return charge.to_dict()

    def retrieve_bank_account(
        self, account_id: str, customer_id: str, bank_account_id: str
    ) -> dict[str, Any]:
        with _translated_errors():
            bank_account = self._client.v1.customers.payment_sources.retrieve(
                customer_id, bank_account_id, options={"stripe_account": account_id}
            )
        return bank_account.to_dict()

    def account_is_connected(self, account_id: str) -> bool:
        try:
            with _translated_errors():
                self._client.v1.accounts.retrieve_current(options={"stripe_account": account_id})
        except StripeRejected as rejected:
            # Stripe answers 403 (account_invalid) once the account revoked the platform.
            if rejected.status == 403:
                return False
            raise
        return True


class SignatureVerifier:
    """Checks the Stripe-Signature header against any of the endpoint's live secrets."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = [s for s in secrets if s]

    def verify(self, raw_body: bytes, signature_header: str | None) -> dict[str, Any]:
        if not signature_header:
            raise WebhookRejected("missing_signature", "Stripe-Signature header is missing")
        try:
            payload = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected("not_json", "body is not UTF-8 JSON") from None
        for secret in self._secrets:
            try:
                # Stripe's own check: HMAC over the exact bytes, any v1 matching, 300 s window.
                stripe.WebhookSignature.verify_header(
                    payload, signature_header, secret, SIGNATURE_TOLERANCE_SECONDS
                )
            except stripe.SignatureVerificationError:
                continue
            return _parse_event(payload)
        raise WebhookRejected("bad_signature", "no valid signature for this endpoint")


def _parse_event(payload: str) -> dict[str, Any]:
    try:
        event = parse_json(payload)
    except ValueError:
        raise WebhookRejected("not_json", "body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookRejected("not_json", "body is not a JSON object")
    if event.get("object") != "event":
        # Thin (v2) event notifications carry no snapshot and are not handled here.
        raise WebhookRejected("unsupported_event", "only snapshot events (object: event)")
    return event


class StripeWebhookEndpoints:
    """Webhook endpoints of the platform, or, given an account id, of that connected account
    (read and written as the account, with Stripe-Account)."""

    def __init__(self, client: stripe.StripeClient, account_id: str | None = None) -> None:
        self._client = client
        self._options: Any = {"stripe_account": account_id} if account_id else {}

    def list_webhook_endpoints(self) -> list[dict[str, Any]]:
        with _translated_errors():
            page = self._client.v1.webhook_endpoints.list({"limit": 100}, self._options)
            return [endpoint.to_dict() for endpoint in page.auto_paging_iter()]

    def create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        with _translated_errors():
            return self._client.v1.webhook_endpoints.create(params, self._options).to_dict()  # type: ignore[arg-type]

    def update_webhook_endpoint(self, endpoint_id: str, params: dict[str, Any]) -> dict[str, Any]:
        with _translated_errors():
            return self._client.v1.webhook_endpoints.update(
                endpoint_id,
                params,  # type: ignore[arg-type]
                self._options,
            ).to_dict()
