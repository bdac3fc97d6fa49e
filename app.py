"""Stripe bridge: the routes and event handlers of the service, and nothing else.

Each entry point parses its input, binds log context, calls one function in chalicelib/ and
maps the result. Read chalicelib/services for what they do.
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Response

from chalicelib import consumer, wiring
from chalicelib.api import payment_view
from chalicelib.domain.accounts import parse_signing_secrets
from chalicelib.domain.payment_requests import parse_id, parse_start_payment
from chalicelib.http import json_body, platform_endpoint, public_base_url, webhook_response
from chalicelib.observability import logger, metrics
from chalicelib.services.account_webhooks import account_webhook, set_signing_secrets
from chalicelib.services.ingest import ingest, ingest_for_account
from chalicelib.settings import DEFAULT_SERVICE_NAME

# Read when Chalice builds the deployment, so it must come from the deploying shell.
EVENTS_QUEUE = os.environ.get("EVENTS_QUEUE_NAME", f"{DEFAULT_SERVICE_NAME}-events")

app = Chalice(app_name="stripe-bridge", configure_logs=False)


def request() -> Any:
    return app.current_request


@app.middleware("all")
def observe(event: Any, get_response: Any) -> Any:
    try:
        return get_response(event)
    finally:
        metrics.flush_metrics()
        logger.clear_state()


# --- Platform API -------------------------------------------------------------------------


@app.route("/payments", methods=["POST"])
@platform_endpoint(request)
def start_payment() -> Response:
    payment, client_secret = wiring.payments_service().start(
        parse_start_payment(json_body(request().raw_body))
    )
    logger.info("payment started", extra={"payment_id": payment.payment_id})
    return Response(body={**payment_view(payment), "client_secret": client_secret}, status_code=201)


@app.route("/payments/{payment_id}", methods=["GET"])
@platform_endpoint(request)
def get_payment(payment_id: str) -> dict[str, Any]:
    return payment_view(wiring.payments_service().get(parse_id(payment_id, "payment_id")))


@app.route("/payments/{payment_id}/sync", methods=["POST"])
@platform_endpoint(request)
def sync_payment(payment_id: str) -> dict[str, Any]:
    return payment_view(wiring.payments_service().sync(parse_id(payment_id, "payment_id")))


@app.route("/accounts/{account_id}/webhook", methods=["GET"])
@platform_endpoint(request)
def get_account_webhook(account_id: str) -> dict[str, Any]:
    return account_webhook(wiring.account_store(), account_id, public_base_url(request()))


@app.route("/accounts/{account_id}/webhook", methods=["PUT"])
@platform_endpoint(request)
def put_account_webhook(account_id: str) -> dict[str, Any]:
    secrets = parse_signing_secrets(json_body(request().raw_body))
    return set_signing_secrets(
        wiring.account_store(), account_id, secrets, public_base_url(request())
    )


# --- Stripe webhooks ----------------------------------------------------------------------


@app.route("/webhooks/stripe", methods=["POST"])
def stripe_webhook() -> Response:
    return webhook_response(
        lambda: ingest(
            request().raw_body,
            request().headers.get("stripe-signature"),
            wiring.platform_verifier(),
            wiring.event_queue(),
            wiring.settings().livemode,
        )
    )


@app.route("/webhooks/stripe/{account_id}", methods=["POST"])
def stripe_account_webhook(account_id: str) -> Response:
    logger.append_keys(account=account_id)
    return webhook_response(
        lambda: ingest_for_account(
            account_id,
            request().raw_body,
            request().headers.get("stripe-signature"),
            wiring.account_store(),
            wiring.verifier_for,
            wiring.event_queue(),
            wiring.settings().livemode,
        )
    )


# --- Queue consumer -----------------------------------------------------------------------


@app.on_sqs_message(queue=EVENTS_QUEUE, batch_size=10)
def consume_events(event: Any) -> None:
    try:
        consumer.consume(event.to_dict(), event.context)
    finally:
        metrics.flush_metrics()
