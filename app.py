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
from chalicelib.domain.errors import WebhookRejected
from chalicelib.domain.payment_requests import parse_id, parse_start_payment
from chalicelib.http import error, json_body, platform_endpoint
from chalicelib.observability import count, logger, metrics
from chalicelib.services.ingest import EnqueueFailed, ingest
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


# --- Stripe webhooks ----------------------------------------------------------------------


@app.route("/webhooks/stripe", methods=["POST"], content_types=["application/json", "*/*"])
def stripe_webhook() -> Response:
    try:
        result = ingest(
            request().raw_body,
            request().headers.get("stripe-signature"),
            wiring.platform_verifier(),
            wiring.event_queue(),
            wiring.settings().livemode,
        )
    except WebhookRejected as rejected:
        count(f"WebhookRejected_{rejected.reason}")
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
    count(f"Webhook_{result.verdict}")
    logger.info("webhook accepted", extra={"verdict": str(result.verdict)})
    return Response(body={"received": True, "outcome": str(result.verdict)}, status_code=200)


# --- Queue consumer -----------------------------------------------------------------------


@app.on_sqs_message(queue=EVENTS_QUEUE, batch_size=10)
def consume_events(event: Any) -> None:
    try:
        consumer.consume(event.to_dict(), event.context)
    finally:
        metrics.flush_metrics()
