"""The control API (`/_standin/...`): plays the customers and the account holders, and lets
tests look inside. JSON in and out, no API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import StripeError, invalid
from .params import (
    bool_param,
    check_known,
    dict_param,
    int_param,
    merge_metadata,
    require_str,
    str_param,
)
from .routing import Request, Routes

if TYPE_CHECKING:
    from .server import StripeStandin

routes = Routes(auth=None, body="json")


def _deliver(params: dict) -> bool:
    """`"deliver": false` records the events but never sends them: a webhook that got lost."""
    return bool(bool_param(params, "deliver", True))


def _known(req: Request, *names: str) -> dict:
    check_known(req.params, [*names, "deliver"])
    return req.params


@routes.add("POST", "/_standin/accounts")
def create_account(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "id", "email", "business_name")
    account_id = str_param(p, "id")
    if account_id is not None and not account_id.startswith("acct_"):
        raise invalid("id", "An account id starts with acct_.")
    account, events = app.store.connect_account(
        account_id=account_id, email=str_param(p, "email"),
        business_name=str_param(p, "business_name"), deliver=_deliver(p))
    return {"account": account, "events": events}


@routes.add("POST", "/_standin/accounts/{id}/deauthorize")
def deauthorize_account(app: StripeStandin, req: Request) -> dict:
    p = _known(req)
    account_id = req.path_args["id"]
    events = app.store.disconnect_account(account_id, deliver=_deliver(p))
    if events is None:
        raise StripeError(400, f"Account {account_id} is not connected.",
                          code="account_invalid")
    return {"account": account_id, "events": events}


@routes.add("POST", "/_standin/payment_intents/{id}/pay")
def pay(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "method", "outcome", "decline_code")
    return app.store.pay(req.path_args["id"], method=require_str(p, "method"),
                         outcome=str_param(p, "outcome"),
                         decline_code=str_param(p, "decline_code"), deliver=_deliver(p))


@routes.add("POST", "/_standin/payment_intents/{id}/settle")
def settle(app: StripeStandin, req: Request) -> dict:
    p = _known(req)
    return app.store.settle(req.path_args["id"], deliver=_deliver(p))


@routes.add("POST", "/_standin/payment_intents/{id}/fail")
def fail(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "code")
    return app.store.fail_debit(req.path_args["id"], code=str_param(p, "code"),
                                deliver=_deliver(p))


@routes.add("POST", "/_standin/payment_intents/{id}/fund")
def fund(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "amount")
    return app.store.fund(req.path_args["id"], amount=int_param(p, "amount", minimum=1),
                          deliver=_deliver(p))


@routes.add("POST", "/_standin/sources")
def create_source(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "account", "type", "amount", "currency", "metadata", "customer", "email")
    source = app.store.create_source(
        require_str(p, "account"), source_type=str_param(p, "type") or "ach_credit_transfer",
        amount=int_param(p, "amount", minimum=1),
        currency=(str_param(p, "currency") or "usd").lower(),
        metadata=merge_metadata({}, dict_param(p, "metadata")),
        customer=str_param(p, "customer"), email=str_param(p, "email"))
    return {"source": source, "events": []}


@routes.add("POST", "/_standin/sources/{id}/chargeable")
def source_chargeable(app: StripeStandin, req: Request) -> dict:
    source, events = app.store.set_source_status(req.path_args["id"], "chargeable",
                                                 deliver=_deliver(_known(req)))
    return {"source": source, "events": events}


@routes.add("POST", "/_standin/sources/{id}/fail")
def source_failed(app: StripeStandin, req: Request) -> dict:
    source, events = app.store.set_source_status(req.path_args["id"], "failed",
                                                 deliver=_deliver(_known(req)))
    return {"source": source, "events": events}


@routes.add("POST", "/_standin/customers")
def create_customer(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "account", "email")
    return app.store.create_customer(require_str(p, "account"), email=str_param(p, "email"),
                                     deliver=_deliver(p))


@routes.add("POST", "/_standin/customers/{customer}/sources/{id}/verify")
def verify_bank_account(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "result")
    bank_account, events = app.store.verify_bank_account(
        req.path_args["customer"], req.path_args["id"],
        result=str_param(p, "result") or "verified", deliver=_deliver(p))
    return {"bank_account": bank_account, "events": events}


@routes.add("GET", "/_standin/events")
def list_events(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "account", "type")
    return {"data": app.store.event_records(account=str_param(p, "account"),
                                            event_type=str_param(p, "type"))}


@routes.add("POST", "/_standin/events/{id}/deliver")
def deliver_event(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "times")
    times = int_param(p, "times", minimum=1) or 1
    event_id = req.path_args["id"]
    return {"event": event_id, "deliveries": app.dispatcher.deliver_now(event_id, times)}


@routes.add("POST", "/_standin/delivery")
def set_delivery(app: StripeStandin, req: Request) -> dict:
    p = _known(req, "paused")
    paused = bool_param(p, "paused")
    if paused is None:
        raise invalid("paused", "paused (true or false) is required.", code="parameter_missing")
    return {"paused": paused, "queued": app.dispatcher.set_paused(paused)}


@routes.add("GET", "/_standin/webhook_endpoints/{id}/secret")
def reveal_endpoint_secret(app: StripeStandin, req: Request) -> dict:
    """What the dashboard's "Reveal" shows an account holder: the endpoint's signing secret."""
    check_known(req.params, [])
    return {"secret": app.store.endpoint_secret(req.path_args["id"])}


@routes.add("GET", "/_standin/state")
def state(app: StripeStandin, req: Request) -> dict:
    _known(req)
    return dict(app.store.dump(), delivery_paused=app.dispatcher.paused)


@routes.add("POST", "/_standin/reset")
def reset(app: StripeStandin, req: Request) -> dict:
    _known(req)
    app.reset()
    return {"reset": True}
