"""The stand-in's memory: accounts, objects, events and endpoints, and how objects move between
states. Callable without HTTP; every public method is atomic under one lock."""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import objects
from .errors import OAuthError, StripeError, invalid, no_such
from .params import merge_metadata

DEFAULT_API_VERSION = "2026-10-28.endive"
DEAUTHORIZED = "account.application.deauthorized"

# What each way of paying is called on the PaymentIntent (`payment_method_types`).
PAYMENT_METHOD_TYPES = {
    "card": "card",
    "card_3ds": "card",
    "us_bank_account": "us_bank_account",
    "sepa_debit": "sepa_debit",
    "customer_balance": "customer_balance",
}
CANCELABLE = ["requires_payment_method", "requires_capture", "requires_confirmation",
              "requires_action", "processing"]
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}
BANK_FAILURE_MESSAGES = {
    "insufficient_funds": "The customer's account has insufficient funds to cover this payment.",
    "account_closed": "The customer's bank account has been closed.",
    "no_account": "The customer's bank account could not be located.",
    "debit_not_authorized": "The customer has notified their bank that this payment was "
                            "unauthorized.",
}
AUTHENTICATION_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
    "or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)


@dataclass
class Connection:
    account: dict
    connected: bool = False


@dataclass
class Endpoint:
    obj: dict
    owner: str | None
    connect: bool
    secret: str


@dataclass
class EventRecord:
    event: dict
    owner: str | None
    pending: set[str]  # endpoints still owed a successful delivery
    deliveries: list[dict] = field(default_factory=list)


@dataclass
class Grant:
    account_id: str
    scope: str
    expires_at: float
    used: bool = False


def _locked(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return wrapper


def _snapshot[T](obj: T) -> T:
    """A copy nobody else holds: events and answers must not change with the live object."""
    return copy.deepcopy(obj)


class Store:
    """All state of one stand-in. `owner` is a connected account id, or None for the platform."""

    def __init__(self, *, client_id: str, platform_name: str = "Local platform",
                 api_version: str = DEFAULT_API_VERSION, code_ttl: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.client_id = client_id
        self.platform_name = platform_name
        self.api_version = api_version
        self.code_ttl = code_ttl
        self.clock = clock
        # Told (event id, endpoint ids) for each event to deliver; set by the dispatcher.
        self.on_event: Callable[[str, list[str]], None] = lambda event_id, endpoint_ids: None
        self._lock = threading.RLock()
        self.platform = objects.account(account_id=objects.new_id("acct", 16), email=None,
                                        business_name=platform_name, created=int(clock()))
        self.reset()

    @_locked
    def reset(self) -> None:
        self._accounts: dict[str, Connection] = {}
        self._objects: dict[str, tuple[str | None, dict]] = {}
        self._events: dict[str, EventRecord] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._grants: dict[str, Grant] = {}

    def now(self) -> int:
        return int(self.clock())

    def _application_id(self, owner: str | None) -> str | None:
        # Objects a platform creates on a connected account name the platform's application.
        return self.client_id if owner else None

    # ---- accounts -------------------------------------------------------------------------

    @_locked
    def has_access(self, account_id: str) -> bool:
        connection = self._accounts.get(account_id)
        return bool(connection and connection.connected)

    @_locked
    def get_account(self, account_id: str) -> dict | None:
        if account_id == self.platform["id"]:
            return _snapshot(self.platform)
        connection = self._accounts.get(account_id)
        return _snapshot(connection.account) if connection else None

    @_locked
    def connect_account(self, *, account_id: str | None = None, email: str | None = None,
                        business_name: str | None = None, deliver: bool = True,
                        ) -> tuple[dict, list[str]]:
        """Finds the account (by id, else by email) or creates it, and connects it."""
        if account_id is not None:
            connection = self._accounts.get(account_id)
        else:
            connection = self._by_email(email)
        if connection is None:
            account = objects.account(account_id=account_id or objects.new_id("acct", 16),
                                      email=email, business_name=business_name,
                                      created=self.now())
            connection = self._accounts[account["id"]] = Connection(account)
        events = []
        if not connection.connected:
            connection.connected = True
            events.append(self._emit("account.application.authorized", self._application(),
                                     connection.account["id"], deliver=deliver))
        return _snapshot(connection.account), events

    def _by_email(self, email: str | None) -> Connection | None:
        return next((c for c in self._accounts.values()
                     if email and c.account["email"] == email), None)

    @_locked
    def find_account_by_email(self, email: str) -> dict | None:
        connection = self._by_email(email)
        return _snapshot(connection.account) if connection else None

    @_locked
    def disconnect_account(self, account_id: str, *, request: dict | None = None,
                           deliver: bool = True) -> list[str] | None:
        """None when the account is unknown or not connected."""
        connection = self._accounts.get(account_id)
        if connection is None or not connection.connected:
            return None
        connection.connected = False
        return [self._emit(DEAUTHORIZED, self._application(), account_id, request=request,
                           deliver=deliver)]

    def _application(self) -> dict:
        return objects.application(self.client_id, self.platform_name)

    # ---- OAuth grants ---------------------------------------------------------------------

    @_locked
    def issue_code(self, account_id: str, scope: str) -> str:
        code = objects.new_id("ac", 32)
        self._grants[code] = Grant(account_id, scope, self.clock() + self.code_ttl)
        return code

    @_locked
    def redeem_code(self, code: str, *, request: dict | None = None) -> tuple[dict, str]:
        grant = self._grants.get(code)
        if grant is None:
            raise OAuthError(400, "invalid_grant", f"Invalid authorization code: {code}")
        if grant.used:
            # Stripe treats a replayed code as a leak and revokes what it granted.
            self.disconnect_account(grant.account_id, request=request)
            raise OAuthError(400, "invalid_grant", f"Authorization code already used: {code}")
        grant.used = True
        if self.clock() > grant.expires_at:
            raise OAuthError(400, "invalid_grant", f"Authorization code expired: {code}")
        if not self.has_access(grant.account_id):
            raise OAuthError(400, "invalid_grant",
                             f"This authorization code has been revoked: {code}")
        return _snapshot(self._accounts[grant.account_id].account), grant.scope

    # ---- objects --------------------------------------------------------------------------

    def _put(self, owner: str | None, obj: dict) -> dict:
        self._objects[obj["id"]] = (owner, obj)
        return obj

    def _find(self, owner: str | None, kind: str, object_id: str, *, param: str = "id",
              status: int = 404) -> dict:
        owner_and_obj = self._objects.get(object_id)
        if owner_and_obj is None or owner_and_obj[0] != owner or \
                owner_and_obj[1]["object"] != kind:
            raise no_such(kind, object_id, param=param, status=status)
        return owner_and_obj[1]

    def _find_any(self, kind: str, object_id: str) -> tuple[str | None, dict]:
        owner_and_obj = self._objects.get(object_id)
        if owner_and_obj is None or owner_and_obj[1]["object"] != kind:
            raise no_such(kind, object_id)
        return owner_and_obj

    @_locked
    def get(self, owner: str | None, kind: str, object_id: str) -> dict:
        return _snapshot(self._find(owner, kind, object_id))

    @_locked
    def lookup(self, owner: str | None, object_id: str) -> dict | None:
        """Any object of that account, for `expand[]`."""
        owner_and_obj = self._objects.get(object_id)
        if owner_and_obj is None or owner_and_obj[0] != owner:
            return None
        return _snapshot(owner_and_obj[1])

    # ---- PaymentIntents (API side) ----------------------------------------------------------

    @_locked
    def create_payment_intent(self, owner: str | None, *, amount: int, currency: str,
                              metadata: dict, payment_method_types: list[str] | None,
                              customer: str | None, description: str | None,
                              request: dict | None = None) -> dict:
        if customer:
            self._find(owner, "customer", customer, param="customer", status=400)
        pi = self._put(owner, objects.payment_intent(
            amount=amount, currency=currency, created=self.now(), metadata=metadata,
            payment_method_types=payment_method_types, customer=customer,
            description=description, application_id=self._application_id(owner),
        ))
        self._emit("payment_intent.created", pi, owner, request=request)
        return _snapshot(pi)

    @_locked
    def update_payment_intent(self, owner: str | None, pi_id: str, *, metadata,
                              description: str | None) -> dict:
        pi = self._find(owner, "payment_intent", pi_id)
        pi["metadata"] = merge_metadata(pi["metadata"], metadata)
        if description is not None:
            pi["description"] = description
        return _snapshot(pi)

    @_locked
    def cancel_payment_intent(self, owner: str | None, pi_id: str, *, reason: str | None,
                              request: dict | None = None) -> dict:
        pi = self._find(owner, "payment_intent", pi_id)
        if pi["status"] not in CANCELABLE:
            raise StripeError(
                400,
                f"You cannot cancel this PaymentIntent because it has a status of "
                f"{pi['status']}. Only a PaymentIntent with one of the following statuses may "
                f"be canceled: {', '.join(CANCELABLE)}.",
                code="payment_intent_unexpected_state",
            )
        pi.update(status="canceled", canceled_at=self.now(), cancellation_reason=reason,
                  next_action=None)
        self._emit("payment_intent.canceled", pi, owner, request=request)
        return _snapshot(pi)

    # ---- PaymentIntents (the customer's side) ---------------------------------------------

    @_locked
    def pay(self, pi_id: str, *, method: str, outcome: str | None = None,
            decline_code: str | None = None, deliver: bool = True) -> dict:
        owner, pi = self._find_any("payment_intent", pi_id)
        pm_type = PAYMENT_METHOD_TYPES.get(method)
        if pm_type is None:
            raise invalid("method", f"Unknown method {method!r}; one of: "
                          + ", ".join(PAYMENT_METHOD_TYPES))
        outcomes = {"card": ["succeeded", "declined"],
                    "card_3ds": ["succeeded", "declined", "abandoned"]}.get(method, ["succeeded"])
        outcome = outcome or "succeeded"
        if outcome not in outcomes:
            raise invalid("outcome", f"With {method}, outcome is one of: " + ", ".join(outcomes))
        # A customer may pick another way to pay as long as no money has moved yet.
        instructions = (pi["next_action"] or {}).get("display_bank_transfer_instructions")
        funded = pi["amount_received"] > 0 or (
            instructions is not None and instructions["amount_remaining"] < pi["amount"])
        payable = pi["status"] in ("requires_payment_method", "requires_confirmation") or (
            pi["status"] == "requires_action" and not funded)
        if not payable:
            raise StripeError(
                400, f"This PaymentIntent's status is {pi['status']}: it cannot be paid again.",
                code="payment_intent_unexpected_state")
        if pi["automatic_payment_methods"] is None and \
                pm_type not in pi["payment_method_types"]:
            raise StripeError(
                400, f"The PaymentIntent does not accept {pm_type}: its payment_method_types "
                     f"are {pi['payment_method_types']}.",
                code="payment_intent_incompatible_payment_method")

        journey = _Journey(self, owner, pi, deliver)
        pi.update(payment_method=objects.new_id("pm"), last_payment_error=None)
        if method == "card":
            if outcome == "declined":
                charge = journey.new_charge("card", "pending")
                code = decline_code or "generic_decline"
                journey.fail(charge, "card", {
                    "type": "card_error", "code": "card_declined", "decline_code": code,
                    "message": DECLINE_MESSAGES.get(code, DECLINE_MESSAGES["generic_decline"]),
                })
            else:
                journey.succeed(journey.new_charge("card", "pending"))
        elif method == "card_3ds":
            pi.update(status="requires_action", next_action={
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect"},
            })
            journey.emit("payment_intent.requires_action", pi)
            if outcome == "declined":
                journey.fail(None, "card", {
                    "type": "invalid_request_error",
                    "code": "payment_intent_authentication_failure",
                    "message": AUTHENTICATION_FAILED,
                })
            elif outcome == "succeeded":
                journey.succeed(journey.new_charge("card", "pending", three_d_secure=True))
        elif method == "customer_balance":
            pi.update(status="requires_action",
                      next_action=_bank_transfer_instructions(pi["amount"], pi["currency"]))
            journey.emit("payment_intent.requires_action", pi)
        else:
            charge = journey.new_charge(pm_type, "pending")
            journey.emit("charge.pending", charge)
            pi.update(status="processing", next_action=None)
            journey.emit("payment_intent.processing", pi)
        return journey.result()

    @_locked
    def settle(self, pi_id: str, *, deliver: bool = True) -> dict:
        owner, pi = self._find_any("payment_intent", pi_id)
        self._require_status(pi, "processing", "settle")
        journey = _Journey(self, owner, pi, deliver)
        journey.succeed(self._find(owner, "charge", pi["latest_charge"]))
        return journey.result()

    @_locked
    def fail_debit(self, pi_id: str, *, code: str | None = None, deliver: bool = True) -> dict:
        owner, pi = self._find_any("payment_intent", pi_id)
        self._require_status(pi, "processing", "fail")
        code = code or "insufficient_funds"
        journey = _Journey(self, owner, pi, deliver)
        charge = self._find(owner, "charge", pi["latest_charge"])
        journey.fail(charge, charge["payment_method_details"]["type"], {
            "type": "invalid_request_error", "code": code,
            "message": BANK_FAILURE_MESSAGES.get(code, "The customer's bank declined this "
                                                       "payment."),
        })
        return journey.result()

    @_locked
    def fund(self, pi_id: str, *, amount: int | None = None, received_grows: bool = True,
             deliver: bool = True) -> dict:
        """A bank transfer arrives. With `received_grows=False` only `amount_remaining` moves
        until the last part: whoever reads it must not depend on which total Stripe moves."""
        owner, pi = self._find_any("payment_intent", pi_id)
        instructions = (pi["next_action"] or {}).get("display_bank_transfer_instructions")
        if pi["status"] != "requires_action" or instructions is None:
            raise StripeError(400, f"PaymentIntent {pi_id} is not awaiting a bank transfer.",
                              code="payment_intent_unexpected_state")
        remaining = instructions["amount_remaining"]
        amount = remaining if amount is None else amount
        journey = _Journey(self, owner, pi, deliver)
        if amount < remaining:
            if received_grows:
                pi["amount_received"] += amount
            instructions["amount_remaining"] = remaining - amount
            journey.emit("payment_intent.partially_funded", pi)
        else:
            # Money beyond what is owed stays on the customer's cash balance, as with Stripe.
            journey.succeed(journey.new_charge("customer_balance", "pending"))
        return journey.result()

    @staticmethod
    def _require_status(pi: dict, status: str, action: str) -> None:
        if pi["status"] != status:
            raise StripeError(400, f"Cannot {action} PaymentIntent {pi['id']}: its status is "
                                   f"{pi['status']}, not {status}.",
                              code="payment_intent_unexpected_state")

    # ---- Charges and legacy Sources -------------------------------------------------------

    @_locked
    def create_source(self, account_id: str, *, source_type: str, amount: int | None,
                      currency: str, metadata: dict, customer: str | None,
                      email: str | None) -> dict:
        if account_id not in self._accounts:
            raise no_such("account", account_id, param="account", status=400)
        if customer:
            self._find(account_id, "customer", customer, param="customer", status=400)
        if source_type != "ach_credit_transfer":
            raise invalid("type", "Only ach_credit_transfer sources are supported.")
        src = objects.source(source_type=source_type, amount=amount, currency=currency,
                             created=self.now(), metadata=metadata, customer=customer,
                             email=email)
        return _snapshot(self._put(account_id, src))

    @_locked
    def set_source_status(self, src_id: str, status: str, *, deliver: bool = True,
                          ) -> tuple[dict, list[str]]:
        owner, src = self._find_any("source", src_id)
        if src["status"] != "pending":
            raise StripeError(400, f"Source {src_id} is {src['status']}, not pending.",
                              code="source_unexpected_state")
        src["status"] = status
        if status == "chargeable" and src["flow"] == "receiver":
            # For a receiver flow, "chargeable" means the customer's transfer has arrived.
            src["receiver"]["amount_received"] = src["amount"] or 0
        return _snapshot(src), [self._emit(f"source.{status}", src, owner, deliver=deliver)]

    @_locked
    def charge_source(self, owner: str | None, *, source_id: str, amount: int, currency: str,
                      metadata: dict, description: str | None, customer: str | None,
                      request: dict | None = None) -> dict:
        src = self._find(owner, "source", source_id, param="source", status=400)
        if src["status"] != "chargeable":
            raise StripeError(400, "The source you provided is not in a chargeable state.",
                              code="payment_method_unexpected_state", param="source")
        if customer:
            self._find(owner, "customer", customer, param="customer", status=400)
        src["status"] = "consumed"
        src["receiver"]["amount_charged"] += amount
        details = {key: src[src["type"]].get(key) for key in
                   ("account_number", "bank_name", "routing_number", "swift_code")}
        charge = self._put(owner, objects.charge(
            amount=amount, currency=currency, created=self.now(), status="succeeded",
            metadata=metadata, payment_intent=None, payment_method=source_id,
            details={"type": src["type"], src["type"]: details}, customer=customer,
            description=description, application_id=self._application_id(owner),
            source=_snapshot(src),
        ))
        self._emit("charge.succeeded", charge, owner, request=request)
        return _snapshot(charge)

    # ---- Customers and their bank accounts ------------------------------------------------

    @_locked
    def create_customer(self, account_id: str, *, email: str | None,
                        deliver: bool = True) -> dict:
        if account_id not in self._accounts:
            raise no_such("account", account_id, param="account", status=400)
        cus = objects.customer(email=email, created=self.now())
        bank_account = objects.bank_account(customer_id=cus["id"])
        cus["default_source"] = bank_account["id"]
        self._put(account_id, cus)
        self._put(account_id, bank_account)
        event_id = self._emit("customer.created", cus, account_id, deliver=deliver)
        return {"customer": _snapshot(cus), "bank_account": _snapshot(bank_account),
                "events": [event_id]}

    @_locked
    def get_customer_source(self, owner: str | None, customer_id: str, source_id: str) -> dict:
        self._find(owner, "customer", customer_id, param="customer")
        source_owner, source = self._objects.get(source_id, (None, {}))
        if source_owner != owner or source.get("customer") != customer_id:
            raise no_such("source", source_id)
        return _snapshot(source)

    @_locked
    def verify_bank_account(self, customer_id: str, ba_id: str, *, result: str,
                            deliver: bool = True) -> tuple[dict, list[str]]:
        owner, bank_account = self._find_any("bank_account", ba_id)
        if bank_account["customer"] != customer_id:
            raise no_such("bank_account", ba_id)
        if result not in ("verified", "verification_failed"):
            raise invalid("result", "result is one of: verified, verification_failed")
        if bank_account["status"] not in ("new", "validated"):
            raise StripeError(400, f"Bank account {ba_id} is already {bank_account['status']}.",
                              code="bank_account_unexpected_state")
        previous = {"status": bank_account["status"]}
        bank_account["status"] = result
        return _snapshot(bank_account), [self._emit("customer.source.updated", bank_account,
                                                    owner, previous=previous, deliver=deliver)]

    # ---- webhook endpoints ----------------------------------------------------------------

    @_locked
    def create_endpoint(self, owner: str | None, *, url: str, enabled_events: list[str],
                        connect: bool, api_version: str | None, description: str | None,
                        metadata: dict) -> dict:
        obj = objects.webhook_endpoint(
            url=url, enabled_events=enabled_events, created=self.now(),
            api_version=api_version, description=description, metadata=metadata,
            application_id=self._application_id(owner))
        secret = "whsec_" + objects.random_token(32)
        self._endpoints[obj["id"]] = Endpoint(obj, owner, bool(connect and owner is None),
                                              secret)
        # The secret is shown once, in the answer to the create call.
        return dict(_snapshot(obj), secret=secret)

    def _find_endpoint(self, owner: str | None, endpoint_id: str) -> Endpoint:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None or endpoint.owner != owner:
            raise no_such("webhook_endpoint", endpoint_id)
        return endpoint

    @_locked
    def get_endpoint(self, owner: str | None, endpoint_id: str) -> dict:
        return _snapshot(self._find_endpoint(owner, endpoint_id).obj)

    @_locked
    def endpoint_secret(self, endpoint_id: str) -> str:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None:
            raise no_such("webhook_endpoint", endpoint_id)
        return endpoint.secret

    @_locked
    def list_endpoints(self, owner: str | None) -> list[dict]:
        return [_snapshot(e.obj) for e in reversed(self._endpoints.values()) if e.owner == owner]

    @_locked
    def update_endpoint(self, owner: str | None, endpoint_id: str, *, url: str | None,
                        enabled_events: list[str] | None, disabled: bool | None, metadata,
                        description: str | None) -> dict:
        obj = self._find_endpoint(owner, endpoint_id).obj
        if url is not None:
            obj["url"] = url
        if enabled_events is not None:
            obj["enabled_events"] = enabled_events
        if disabled is not None:
            obj["status"] = "disabled" if disabled else "enabled"
        if description is not None:
            obj["description"] = description
        obj["metadata"] = merge_metadata(obj["metadata"], metadata)
        return _snapshot(obj)

    @_locked
    def delete_endpoint(self, owner: str | None, endpoint_id: str) -> dict:
        self._find_endpoint(owner, endpoint_id)
        del self._endpoints[endpoint_id]
        return objects.deleted_webhook_endpoint(endpoint_id)

    def _receives(self, endpoint: Endpoint, event_type: str, owner: str | None) -> bool:
        enabled = endpoint.obj["enabled_events"]
        if endpoint.obj["status"] != "enabled" or ("*" not in enabled and
                                                   event_type not in enabled):
            return False
        if endpoint.owner is not None:
            return endpoint.owner == owner
        if owner is None:
            return not endpoint.connect
        # A platform hears from an account while connected, and once more when cut off.
        return endpoint.connect and (self.has_access(owner) or event_type == DEAUTHORIZED)

    # ---- events ---------------------------------------------------------------------------

    def _emit(self, event_type: str, obj: dict, owner: str | None, *,
              previous: dict | None = None, request: dict | None = None,
              deliver: bool = True) -> str:
        data: dict = {"object": _snapshot(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event = objects.event(event_type=event_type, data=data, created=self.now(),
                              api_version=self.api_version, account_id=owner, request=request)
        endpoint_ids = [endpoint_id for endpoint_id, endpoint in self._endpoints.items()
                        if self._receives(endpoint, event_type, owner)]
        event["pending_webhooks"] = len(endpoint_ids)
        self._events[event["id"]] = EventRecord(event, owner, set(endpoint_ids))
        if deliver and endpoint_ids:
            self.on_event(event["id"], endpoint_ids)
        return event["id"]

    def _event(self, event_id: str) -> EventRecord:
        record = self._events.get(event_id)
        if record is None:
            raise no_such("event", event_id)
        return record

    @_locked
    def get_event(self, owner: str | None, event_id: str) -> dict:
        record = self._event(event_id)
        if record.owner != owner:
            raise no_such("event", event_id)
        return _snapshot(record.event)

    @_locked
    def list_events(self, owner: str | None, *, types: list[str] | None = None,
                    delivery_success: bool | None = None,
                    created: Callable[[int], bool] | None = None) -> list[dict]:
        """Newest first, like Stripe."""
        found = []
        for record in reversed(self._events.values()):
            event = record.event
            if record.owner != owner:
                continue
            if types and not any(_type_matches(pattern, event["type"]) for pattern in types):
                continue
            if delivery_success is not None and delivery_success == bool(record.pending):
                continue
            if created and not created(event["created"]):
                continue
            found.append(_snapshot(event))
        return found

    @_locked
    def event_records(self, *, account: str | None = None,
                      event_type: str | None = None) -> list[dict]:
        """Every event with its delivery history, oldest first, for the control API."""
        return [
            {"event": _snapshot(r.event), "deliveries": _snapshot(r.deliveries),
             "pending_endpoints": sorted(r.pending)}
            for r in self._events.values()
            if (account is None or r.owner == (None if account == "platform" else account))
            and (event_type is None or _type_matches(event_type, r.event["type"]))
        ]

    @_locked
    def endpoints_for(self, event_id: str) -> list[str]:
        """The endpoints that would receive this event now."""
        record = self._event(event_id)
        return [endpoint_id for endpoint_id, endpoint in self._endpoints.items()
                if self._receives(endpoint, record.event["type"], record.owner)]

    @_locked
    def delivery(self, event_id: str, endpoint_id: str) -> tuple[str, str, bytes] | None:
        """(url, secret, body) to send, or None when the endpoint is gone or disabled."""
        record = self._event(event_id)
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None or endpoint.obj["status"] != "enabled":
            return None
        body = dict(record.event, pending_webhooks=len(record.pending))
        # Stripe renders each event in the API version the endpoint was pinned to.
        body["api_version"] = endpoint.obj["api_version"] or body["api_version"]
        return endpoint.obj["url"], endpoint.secret, json.dumps(body, indent=2).encode()

    @_locked
    def record_delivery(self, event_id: str, endpoint_id: str, *, status: int | None,
                        error: str | None) -> dict:
        record = self._event(event_id)
        attempt = 1 + sum(1 for d in record.deliveries if d["endpoint"] == endpoint_id)
        endpoint = self._endpoints.get(endpoint_id)
        entry = {"endpoint": endpoint_id, "url": endpoint.obj["url"] if endpoint else None,
                 "attempt": attempt, "status": status, "error": error, "at": self.now()}
        record.deliveries.append(entry)
        if status is not None and 200 <= status < 300:
            record.pending.discard(endpoint_id)
            record.event["pending_webhooks"] = len(record.pending)
        return dict(entry)

    # ---- debugging ------------------------------------------------------------------------

    @_locked
    def dump(self) -> dict:
        def owned_by(owner):
            return [_snapshot(obj) for o, obj in self._objects.values() if o == owner]

        return {
            "platform": _snapshot(self.platform),
            "accounts": [
                {"account": _snapshot(c.account), "connected": c.connected,
                 "objects": owned_by(account_id)}
                for account_id, c in self._accounts.items()
            ],
            "platform_objects": owned_by(None),
            "webhook_endpoints": [
                dict(_snapshot(e.obj), account=e.owner, connect=e.connect)
                for e in self._endpoints.values()
            ],
            "events": len(self._events),
        }


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern in ("*", event_type)


def _bank_transfer_instructions(amount: int, currency: str) -> dict:
    return {
        "type": "display_bank_transfer_instructions",
        "display_bank_transfer_instructions": {
            "amount_remaining": amount,
            "currency": currency,
            "financial_addresses": [{
                "type": "aba",
                "aba": {"account_number": "test_" + objects.random_token(10).lower(),
                        "bank_name": objects.TEST_BANK["bank_name"],
                        "routing_number": objects.TEST_BANK["routing_number"]},
                "supported_networks": ["ach", "domestic_wire_us"],
            }],
            "hosted_instructions_url": None,
            "reference": objects.random_token(10).upper(),
            "type": "us_bank_transfer",
        },
    }


class _Journey:
    """One customer action on a PaymentIntent: the charge it makes and the events it emits."""

    def __init__(self, store: Store, owner: str | None, pi: dict, deliver: bool) -> None:
        self.store, self.owner, self.pi, self.deliver = store, owner, pi, deliver
        self.charge: dict | None = None
        self.events: list[str] = []

    def emit(self, event_type: str, obj: dict) -> None:
        self.events.append(self.store._emit(event_type, obj, self.owner, deliver=self.deliver))

    def new_charge(self, pm_type: str, status: str, *, three_d_secure: bool = False) -> dict:
        pi = self.pi
        charge = self.store._put(self.owner, objects.charge(
            amount=pi["amount"], currency=pi["currency"], created=self.store.now(),
            status=status, metadata=pi["metadata"], payment_intent=pi["id"],
            payment_method=pi["payment_method"],
            details=objects.payment_method_details(pm_type, three_d_secure=three_d_secure),
            customer=pi["customer"], description=pi["description"],
            application_id=pi["application"],
        ))
        pi["latest_charge"] = charge["id"]
        return charge

    def succeed(self, charge: dict) -> None:
        self.charge = charge
        objects.set_charge_status(charge, "succeeded")
        self.emit("charge.succeeded", charge)
        self.pi.update(status="succeeded", amount_received=self.pi["amount"], next_action=None,
                       latest_charge=charge["id"])
        self.emit("payment_intent.succeeded", self.pi)

    def fail(self, charge: dict | None, pm_type: str, error: dict) -> None:
        error = objects.payment_error(
            **error,
            doc_url="https://stripe.com/docs/error-codes/" + error["code"].replace("_", "-"),
            payment_method={"id": self.pi["payment_method"], "object": "payment_method",
                            "type": pm_type},
            payment_method_type=pm_type,
        )
        if charge is not None:
            self.charge = charge
            objects.set_charge_status(charge, "failed", failure_code=error["code"],
                                      failure_message=error["message"])
            self.emit("charge.failed", charge)
            error["charge"] = charge["id"]
        self.pi.update(status="requires_payment_method", last_payment_error=error,
                       payment_method=None, next_action=None)
        self.emit("payment_intent.payment_failed", self.pi)

    def result(self) -> dict:
        return {"payment_intent": _snapshot(self.pi), "charge": _snapshot(self.charge),
                "events": self.events}
