"""The Stripe API routes (`/v1/...`): read parameters, call the Store, shape lists."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import invalid, missing, no_access, no_such
from .params import (
    bool_param,
    check_known,
    dict_param,
    int_param,
    list_param,
    merge_metadata,
    require_int,
    require_str,
    str_param,
)
from .routing import Handler, Request, Routes

if TYPE_CHECKING:
    from .server import StripeStandin

routes = Routes(auth="api", body="form")

CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")


def _currency(params: dict) -> str:
    currency = require_str(params, "currency")
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise invalid("currency", f"Invalid currency: {currency}.", code="invalid_currency")
    return currency.lower()


def _metadata(params: dict) -> dict:
    return merge_metadata({}, dict_param(params, "metadata"))


def _page(items: list[dict], params: dict, url: str) -> dict:
    """Stripe's cursor pagination over a newest-first list."""
    limit = int_param(params, "limit", minimum=1) or 10
    if limit > 100:
        raise invalid("limit", "This value must be less than or equal to 100.",
                      code="parameter_invalid_integer")
    ids = [item["id"] for item in items]
    for cursor in ("starting_after", "ending_before"):
        object_id = str_param(params, cursor)
        if object_id is not None and object_id not in ids:
            raise no_such("object", object_id, param=cursor, status=400)
    if (after := str_param(params, "starting_after")) is not None:
        items = items[ids.index(after) + 1:]
        data = items[:limit]
    elif (before := str_param(params, "ending_before")) is not None:
        items = items[:ids.index(before)]
        data = items[-limit:]
    else:
        data = items[:limit]
    return {"object": "list", "data": data, "has_more": len(items) > limit, "url": url}


# ---- Retrieval by id --------------------------------------------------------------------------

def _retriever(kind: str, allowed: tuple[str, ...]) -> Handler:
    def retrieve(app: StripeStandin, req: Request) -> dict:
        check_known(req.params, allowed)
        return app.store.get(req.owner, kind, req.path_args["id"])
    return retrieve


for _path, _kind, _allowed in (
    ("/v1/payment_intents/{id}", "payment_intent", ("client_secret",)),
    ("/v1/charges/{id}", "charge", ()),
    ("/v1/sources/{id}", "source", ("client_secret",)),
    ("/v1/customers/{id}", "customer", ()),
):
    routes.add("GET", _path)(_retriever(_kind, _allowed))


# ---- PaymentIntents ---------------------------------------------------------------------------

@routes.add("POST", "/v1/payment_intents")
def create_payment_intent(app: StripeStandin, req: Request) -> dict:
    p = req.params
    check_known(p, ["amount", "currency", "metadata", "payment_method_types", "customer",
                    "description", "automatic_payment_methods"])
    return app.store.create_payment_intent(
        req.owner, amount=require_int(p, "amount", minimum=1), currency=_currency(p),
        metadata=_metadata(p),
        payment_method_types=list_param(p, "payment_method_types"),
        customer=str_param(p, "customer"), description=str_param(p, "description"),
        request=req.event_request(),
    )


@routes.add("POST", "/v1/payment_intents/{id}")
def update_payment_intent(app: StripeStandin, req: Request) -> dict:
    p = req.params
    check_known(p, ["metadata", "description"])
    return app.store.update_payment_intent(req.owner, req.path_args["id"],
                                           metadata=dict_param(p, "metadata"),
                                           description=str_param(p, "description"))


@routes.add("POST", "/v1/payment_intents/{id}/cancel")
def cancel_payment_intent(app: StripeStandin, req: Request) -> dict:
    p = req.params
    check_known(p, ["cancellation_reason"])
    reason = str_param(p, "cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise invalid("cancellation_reason", "Invalid cancellation_reason: must be one of "
                      + ", ".join(CANCELLATION_REASONS))
    return app.store.cancel_payment_intent(req.owner, req.path_args["id"], reason=reason,
                                           request=req.event_request())


# ---- Charges, Sources, Customers --------------------------------------------------------------

@routes.add("POST", "/v1/charges")
def create_charge(app: StripeStandin, req: Request) -> dict:
    p = req.params
    check_known(p, ["amount", "currency", "source", "metadata", "description", "customer"])
    amount = require_int(p, "amount", minimum=1)
    source_id = require_str(p, "source")
    if not source_id.startswith("src_"):
        raise invalid("source", "Only charges from Sources (src_...) are supported here.")
    return app.store.charge_source(
        req.owner, source_id=source_id, amount=amount, currency=_currency(p),
        metadata=_metadata(p), description=str_param(p, "description"),
        customer=str_param(p, "customer"), request=req.event_request(),
    )


@routes.add("GET", "/v1/customers/{customer}/sources/{id}")
def get_customer_source(app: StripeStandin, req: Request) -> dict:
    check_known(req.params, [])
    return app.store.get_customer_source(req.owner, req.path_args["customer"],
                                         req.path_args["id"])


# ---- Events -----------------------------------------------------------------------------------

def _created_filter(params: dict) -> Callable[[int], bool] | None:
    created = params.get("created")
    if created is None:
        return None
    if not isinstance(created, dict):
        exact = int_param(params, "created")
        return lambda t: t == exact
    checks = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
    check_known(created, checks)
    bounds = [(checks[op], require_int(created, op)) for op in created]
    return lambda t: all(check(t, bound) for check, bound in bounds)


@routes.add("GET", "/v1/events")
def list_events(app: StripeStandin, req: Request) -> dict:
    p = req.params
    check_known(p, ["limit", "starting_after", "ending_before", "type", "types",
                    "delivery_success", "created"])
    types = list_param(p, "types") or ([p["type"]] if str_param(p, "type") else None)
    events = app.store.list_events(req.owner, types=types,
                                   delivery_success=bool_param(p, "delivery_success"),
                                   created=_created_filter(p))
    return _page(events, p, "/v1/events")


@routes.add("GET", "/v1/events/{id}")
def get_event(app: StripeStandin, req: Request) -> dict:
    check_known(req.params, [])
    return app.store.get_event(req.owner, req.path_args["id"])


# ---- Webhook endpoints ------------------------------------------------------------------------

def _checked_url(url: str) -> str:
    if not re.match(r"https?://[^/\s]+", url):
        raise invalid("url", "Invalid URL: must be an absolute http or https URL.",
                      code="url_invalid")
    return url


@routes.add("POST", "/v1/webhook_endpoints")
def create_webhook_endpoint(app: StripeStandin, req: Request) -> dict:
    p = req.params
    check_known(p, ["url", "enabled_events", "connect", "api_version", "description",
                    "metadata"])
    url = _checked_url(require_str(p, "url"))
    enabled_events = list_param(p, "enabled_events")
    if not enabled_events:
        raise missing("enabled_events")
    return app.store.create_endpoint(
        req.owner, url=url, enabled_events=enabled_events,
        connect=bool(bool_param(p, "connect", False)), api_version=str_param(p, "api_version"),
        description=str_param(p, "description"), metadata=_metadata(p),
    )


@routes.add("GET", "/v1/webhook_endpoints")
def list_webhook_endpoints(app: StripeStandin, req: Request) -> dict:
    check_known(req.params, ["limit", "starting_after", "ending_before"])
    return _page(app.store.list_endpoints(req.owner), req.params, "/v1/webhook_endpoints")


@routes.add("GET", "/v1/webhook_endpoints/{id}")
def get_webhook_endpoint(app: StripeStandin, req: Request) -> dict:
    check_known(req.params, [])
    return app.store.get_endpoint(req.owner, req.path_args["id"])


@routes.add("POST", "/v1/webhook_endpoints/{id}")
def update_webhook_endpoint(app: StripeStandin, req: Request) -> dict:
    p = req.params
    check_known(p, ["url", "enabled_events", "disabled", "description", "metadata"])
    enabled_events = list_param(p, "enabled_events")
    if enabled_events == []:
        raise invalid("enabled_events", "enabled_events cannot be empty.")
    url = str_param(p, "url")
    return app.store.update_endpoint(
        req.owner, req.path_args["id"], url=url and _checked_url(url),
        enabled_events=enabled_events, disabled=bool_param(p, "disabled"),
        metadata=dict_param(p, "metadata"), description=str_param(p, "description"),
    )


@routes.add("DELETE", "/v1/webhook_endpoints/{id}")
def delete_webhook_endpoint(app: StripeStandin, req: Request) -> dict:
    check_known(req.params, [])
    return app.store.delete_endpoint(req.owner, req.path_args["id"])


# ---- Accounts ---------------------------------------------------------------------------------

@routes.add("GET", "/v1/account")
def get_own_account(app: StripeStandin, req: Request) -> dict:
    check_known(req.params, [])
    account = app.store.get_account(req.owner or app.store.platform["id"])
    assert account is not None
    return account


@routes.add("GET", "/v1/accounts/{id}")
def get_account(app: StripeStandin, req: Request) -> dict:
    check_known(req.params, [])
    account_id = req.path_args["id"]
    platform_id = app.store.platform["id"]
    # The platform sees itself and its connected accounts; an account sees only itself.
    visible = account_id == req.owner if req.owner else (
        account_id == platform_id or app.store.has_access(account_id))
    account = app.store.get_account(account_id) if visible else None
    if account is None:
        raise no_access(app.api_key, account_id)
    return account


def expand(app: StripeStandin, req: Request, obj: dict) -> dict:
    """`expand[]` for top-level fields that hold the id of an object of the same account."""
    for name in list_param(req.params, "expand") or []:
        value = obj.get(name)
        if not isinstance(value, str):
            continue
        # Objects the stand-in does not keep (payment methods) stay ids.
        if (found := app.store.lookup(req.owner, value)) is not None:
            obj[name] = found
    return obj
