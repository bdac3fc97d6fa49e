"""Requests, responses and route tables shared by the API, OAuth and control modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import StripeStandin


@dataclass
class Request:
    method: str
    path: str
    params: dict
    headers: Mapping[str, str]  # names lower-cased
    request_id: str
    path_args: dict = field(default_factory=dict)
    owner: str | None = None  # the Stripe-Account the call acts for; None is the platform
    idempotency_key: str | None = None

    def event_request(self) -> dict:
        """What an event caused by this request says in its `request` field."""
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict → JSON, str → HTML
    headers: dict = field(default_factory=dict)


Handler = Callable[["StripeStandin", Request], "dict | Response"]


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    auth: str | None  # "api": Stripe API errors; "oauth": OAuth errors; None: open
    body: str  # "form" or "json"
    path: str = ""  # as declared, e.g. "/v1/payment_intents/{id}"


class Routes:
    """A module's routes; paths use `{name}` for one path segment."""

    def __init__(self, *, auth: str | None, body: str) -> None:
        self.auth = auth
        self.body = body
        self.routes: list[Route] = []

    def add(self, method: str, path: str, *, public: bool = False
            ) -> Callable[[Handler], Handler]:
        """`public` routes need no API key (the pages a browser opens)."""
        pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, pattern, handler,
                                     None if public else self.auth, self.body, path))
            return handler
        return register
