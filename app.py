"""Stripe bridge: the routes and event handlers of the service, and nothing else.

Each entry point parses its input, binds log context, calls one function in chalicelib/ and
maps the result. Read chalicelib/services for what they do.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Response

from chalicelib import consumer, recovery_jobs, sweep_jobs, wiring
from chalicelib.admin_http import (
    admin_link_view,
    admin_page,
    create_endpoint,
    save_secret,
    show_overview,
)
from chalicelib.api import (
    history_view,
    payment_method_view,
    payment_view,
    started_payment_view,
)
from chalicelib.connect_http import (
    FORM_CONTENT_TYPE,
    account_with_health,
    accounts_view,
    browser_page,
    callback_url,
    link_view,
    page_for,
    parse_callback,
    parse_continue,
    redirect_to_stripe,
    show_link_page,
)
from chalicelib.domain.accounts import parse_signing_secrets
from chalicelib.domain.admin import parse_admin_link_request
from chalicelib.domain.connect import parse_account_id, parse_connect_request
from chalicelib.domain.payment_requests import parse_id, parse_start_payment
from chalicelib.http import (
    json_body,
    platform_endpoint,
    public_base_url,
    service_errors,
    webhook_response,
)
from chalicelib.observability import count, logger, metrics
from chalicelib.services.account_webhooks import account_webhook, set_signing_secrets
from chalicelib.services.ingest import ingest, ingest_for_account
from chalicelib.services.payment_methods import saved_payment_method
from chalicelib.services.payments import payment_history
from chalicelib.settings import StageBinding

# Read while `chalice deploy/package --stage S` imports this module, with stage S's variables
# set: each stage gets its own API name (the ApiName of its metrics), its own queues and schedule.
STAGE = StageBinding.from_env()

app = Chalice(app_name=STAGE.service_name, configure_logs=False)


def request() -> Any:
    return app.current_request


@app.middleware("all")
def observe(event: Any, get_response: Any) -> Any:
    try:
        return get_response(event)
    finally:
        metrics.flush_metrics()
        logger.clear_state()


app.register_middleware(service_errors(app.routes), "http")

# --- Platform API -------------------------------------------------------------------------


@app.route("/payments", methods=["POST"])
@platform_endpoint(request)
def start_payment() -> Response:
    started = wiring.payments_service().start(parse_start_payment(json_body(request().raw_body)))
    logger.info("payment started", extra={"payment_id": started.payment.payment_id})
    return Response(body=started_payment_view(started), status_code=201)


@app.route("/payments/{payment_id}", methods=["GET"])
@platform_endpoint(request)
def get_payment(payment_id: str) -> dict[str, Any]:
    payment = wiring.payments_service().get(parse_id(payment_id, "payment_id"))
    return payment_view(payment, wiring.payment_store().check_of(payment.payment_id))


@app.route("/payments/{payment_id}/history", methods=["GET"])
@platform_endpoint(request)
def get_payment_history(payment_id: str) -> dict[str, Any]:
    store = wiring.payment_store()
    return history_view(*payment_history(store, store, parse_id(payment_id, "payment_id")))


@app.route("/payments/{payment_id}/sync", methods=["POST"])
@platform_endpoint(request)
def sync_payment(payment_id: str) -> dict[str, Any]:
    return payment_view(wiring.payments_service().sync(parse_id(payment_id, "payment_id")))


@app.route("/payment-methods/{account_id}/{payment_method_id}", methods=["GET"])
@platform_endpoint(request)
def get_payment_method(account_id: str, payment_method_id: str) -> dict[str, Any]:
    return payment_method_view(
        saved_payment_method(
            wiring.payment_method_store(),
            parse_id(account_id, "account_id"),
            parse_id(payment_method_id, "payment_method_id"),
        )
    )


@app.route("/accounts/{account_id}/webhook", methods=["GET"])
@platform_endpoint(request)
def get_account_webhook(account_id: str) -> dict[str, Any]:
    return account_webhook(
        wiring.account_store(), parse_account_id(account_id), public_base_url(request())
    )


@app.route("/accounts/{account_id}/webhook", methods=["PUT"])
@platform_endpoint(request)
def put_account_webhook(account_id: str) -> dict[str, Any]:
    secrets = parse_signing_secrets(json_body(request().raw_body))
    return set_signing_secrets(
        wiring.account_store(), parse_account_id(account_id), secrets, public_base_url(request())
    )


# --- Connecting a Stripe account (OAuth) ----------------------------------------------------


@app.route("/companies/{company_id}/connect-links", methods=["POST"])
@platform_endpoint(request)
def create_connect_link(company_id: str) -> Response:
    link = wiring.connect_service().create_link(
        parse_connect_request(company_id, json_body(request().raw_body))
    )
    logger.info("connect link created", extra={"company_id": link.company_id})
    count("ConnectLinkCreated")
    return Response(body=link_view(link, request()), status_code=201)


@app.route("/connect/{link_id}", methods=["GET"])
@browser_page(request)
def show_connect_link(link_id: str) -> Response:
    return show_link_page(wiring.connect_service().show_link(link_id), link_id, request())


@app.route("/connect/{link_id}", methods=["POST"], content_types=[FORM_CONTENT_TYPE])
@browser_page(request)
def open_connect_link(link_id: str) -> Response:
    form_token, cookie = parse_continue(request())
    redirect = wiring.connect_service().open_link(
        link_id, callback_url(request()), form_token, cookie
    )
    logger.info("admin sent to Stripe", extra={"company_id": redirect.request.company_id})
    return redirect_to_stripe(redirect, request())


@app.route("/connect/oauth/callback", methods=["GET"])
@browser_page(request)
def connect_callback() -> Response:
    connected = wiring.connect_service().finish(parse_callback(request()))
    account = connected.account
    logger.info(
        "account connected", extra={"account": account.account_id, "company_id": account.company_id}
    )
    count("AccountReplaced" if connected.replaced else "AccountConnected")
    return page_for(connected, request())


@app.route("/companies/{company_id}/accounts", methods=["GET"])
@platform_endpoint(request)
def list_company_accounts(company_id: str) -> dict[str, Any]:
    accounts = wiring.connect_service().accounts_of(parse_id(company_id, "company_id"))
    return accounts_view(accounts, request())


@app.route("/companies/{company_id}/accounts/{account_id}", methods=["DELETE"])
@platform_endpoint(request)
def disconnect_company_account(company_id: str, account_id: str) -> dict[str, Any]:
    logger.append_keys(account=account_id)
    account = wiring.connect_service().disconnect(
        parse_id(company_id, "company_id"), parse_account_id(account_id)
    )
    logger.info("account disconnected", extra={"company_id": company_id})
    count("AccountDisconnected")
    return account_with_health(account, request())


# --- The webhook overview an admin link opens --------------------------------------------


@app.route("/companies/{company_id}/admin-links", methods=["POST"])
@platform_endpoint(request)
def create_admin_link(company_id: str) -> Response:
    link = wiring.admin_links().create(
        parse_admin_link_request(company_id, json_body(request().raw_body))
    )
    logger.info("admin link created", extra={"company_id": link.company_id})
    count("AdminLinkCreated")
    return Response(body=admin_link_view(link, request()), status_code=201)


@app.route("/admin/{link_id}", methods=["GET"])
@admin_page(request)
def show_webhook_overview(link_id: str) -> Response:
    return show_overview(wiring.admin_links().open(link_id), link_id, request())


@app.route(
    "/admin/{link_id}/accounts/{account_id}/endpoint",
    methods=["POST"],
    content_types=[FORM_CONTENT_TYPE],
)
@admin_page(request)
def create_account_endpoint(link_id: str, account_id: str) -> Response:
    return create_endpoint(link_id, account_id, request())


@app.route(
    "/admin/{link_id}/accounts/{account_id}/signing-secret",
    methods=["POST"],
    content_types=[FORM_CONTENT_TYPE],
)
@admin_page(request)
def save_account_signing_secret(link_id: str, account_id: str) -> Response:
    return save_secret(link_id, account_id, request())


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
            health=wiring.webhook_health,
        )
    )


# --- Queue consumer -----------------------------------------------------------------------


@app.on_sqs_message(
    queue=STAGE.events_queue,
    batch_size=10,
    maximum_concurrency=STAGE.consumer_max_concurrency,
)
def consume_events(event: Any) -> dict[str, Any] | None:
    try:
        return consumer.consume_batch(event.to_dict(), event.context)
    finally:
        metrics.flush_metrics()


# --- Reconciliation sweep -----------------------------------------------------------------


@app.schedule(STAGE.sweep_schedule)
def sweep_payments(event: Any) -> None:
    try:
        sweep_jobs.scheduled_sweep(event.context)
    finally:
        metrics.flush_metrics()


# --- Missed-event recovery ----------------------------------------------------------------


@app.schedule(STAGE.recovery_schedule)
def schedule_event_recovery(event: Any) -> None:
    try:
        recovery_jobs.schedule_recovery()
    finally:
        metrics.flush_metrics()


@app.on_sqs_message(
    queue=STAGE.recovery_queue, batch_size=1, maximum_concurrency=STAGE.recovery_max_concurrency
)
def recover_account_events(event: Any) -> dict[str, Any] | None:
    try:
        return recovery_jobs.recover_batch(event.to_dict())
    finally:
        metrics.flush_metrics()
