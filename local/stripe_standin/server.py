"""The HTTP side of the stand-in: authentication, Stripe-Account scoping, idempotency keys,
routing to the API, OAuth and control modules, and the `StripeStandin` server itself."""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from local.counting import RequestTally

from . import api, control, oauth
from .errors import OAuthError, StripeError, mask_key, no_access
from .objects import random_token
from .params import decode_form
from .routing import Request, Response, Route
from .state import DEFAULT_API_VERSION, Store
from .webhooks import Dispatcher

log = logging.getLogger("stripe_standin")

ROUTES: list[Route] = [*api.routes.routes, *oauth.routes.routes, *control.routes.routes]


@dataclass
class _Saved:
    fingerprint: str
    response: Response | None  # None while the first request is still running


class _IdempotencyKeys:
    """Replays the answer of a POST whose Idempotency-Key (per account) was seen before."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: dict[tuple[str | None, str], _Saved] = {}

    def begin(self, scope: tuple[str | None, str], fingerprint: str) -> Response | None:
        with self._lock:
            saved = self._saved.get(scope)
            if saved is None:
                self._saved[scope] = _Saved(fingerprint, None)
                return None
        key = scope[1]
        if saved.fingerprint != fingerprint:
            raise StripeError(
                400, "Keys for idempotent requests can only be used with the same parameters "
                     f"they were first used with. Try using a key other than '{key}' if you "
                     "meant to execute a different request.",
                type="idempotency_error")
        if saved.response is None:
            raise StripeError(
                409, "There is currently another in-progress request using this Stripe-Account "
                     f"and Idempotency-Key ({key}). Try again later.",
                type="idempotency_error", code="idempotency_key_in_use")
        return saved.response

    def finish(self, scope: tuple[str | None, str], response: Response) -> None:
        with self._lock:
            saved = self._saved.pop(scope, None)  # gone if a reset came in between
            # Only answers of requests that ran are kept; a rejected request may be retried.
            if saved is not None and response.status < 400:
                saved.response = response
                self._saved[scope] = saved

    def clear(self) -> None:
        with self._lock:
            self._saved.clear()


def _api_key(headers: Mapping[str, str], client_secret: object = None) -> str | None:
    """The secret key of a request: Bearer or Basic auth, else a `client_secret` parameter."""
    authorization = headers.get("authorization") or ""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    if scheme.lower() == "basic":  # `curl -u sk_test_...:`
        try:
            return base64.b64decode(credentials).decode().partition(":")[0]
        except ValueError:
            return None
    return client_secret if isinstance(client_secret, str) else None


def _parse_body(route: Route, method: str, query: str, body: bytes) -> dict:
    params = decode_form(parse_qsl(query, keep_blank_values=True))
    if method != "POST" or not body:
        return params
    if route.body == "json":
        try:
            parsed = json.loads(body)
        except ValueError:
            raise StripeError(400, "The request body is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise StripeError(400, "The request body must be a JSON object.")
        return {**params, **parsed}
    return {**params, **decode_form(parse_qsl(body.decode(), keep_blank_values=True))}


class StripeStandin:
    """A local, stateful stand-in for Stripe, for the real `stripe` SDK to talk to."""

    def __init__(self, host: str = "127.0.0.1", port: int = 12111,
                 api_key: str = "sk_test_standin", client_id: str = "ca_standin",
                 public_url: str | None = None, *, platform_name: str = "Local platform",
                 api_version: str = DEFAULT_API_VERSION, code_ttl: float = 300.0,
                 retry_delays: tuple[float, ...] = (0.5, 2.0), delivery_timeout: float = 10.0,
                 clock: Callable[[], float] = time.time, count_requests: bool = False) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.client_id = client_id
        self._public_url = public_url
        self.store = Store(client_id=client_id, platform_name=platform_name,
                           api_version=api_version, code_ttl=code_ttl, clock=clock)
        self.dispatcher = Dispatcher(self.store, retry_delays=retry_delays,
                                     timeout=delivery_timeout)
        self.store.on_event = self.dispatcher.enqueue
        self._idempotency = _IdempotencyKeys()
        # Requests served by route ("GET /v1/payment_intents/{id}") and time spent on them.
        self.tally = RequestTally() if count_requests else None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def public_url(self) -> str:
        """Where a browser reaches the stand-in (the OAuth page posts back there)."""
        return (self._public_url or self.url).rstrip("/")

    def bind(self) -> None:
        self._httpd = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.standin = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]  # the real one when asked for port 0
        self.dispatcher.start()
        log.info("listening on %s", self.url)

    def start(self) -> StripeStandin:
        """Serves from a background thread; returns once the port is listening."""
        self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="stripe-standin-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind()
        assert self._httpd is not None
        try:
            self._httpd.serve_forever()
        finally:
            self.stop()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            if self._thread is not None:
                httpd.shutdown()
                self._thread.join()
                self._thread = None
            httpd.server_close()
        self.dispatcher.stop()

    def __enter__(self) -> StripeStandin:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reset(self) -> None:
        self.dispatcher.clear()
        self.store.reset()
        self._idempotency.clear()

    # ---- requests -------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str],
               body: bytes) -> Response:
        started = time.perf_counter()
        request_id = "req_" + random_token(14)
        response = self._respond(method, target, headers, body, request_id)
        response.headers.setdefault("Request-Id", request_id)
        if self.tally is not None:
            route, _ = self._route(method, target.partition("?")[0])
            name = f"{method} {route.path if route else '(no route)'}"
            self.tally.record(name, time.perf_counter() - started)
        return response

    def _respond(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
                 request_id: str) -> Response:
        path, _, query = target.partition("?")
        route, path_args = self._route(method, path)
        try:
            if route is None:
                raise StripeError(404, f"Unrecognized request URL ({method}: {path}). Please "
                                       "see https://stripe.com/docs or we can help at "
                                       "https://support.stripe.com/.")
            params = _parse_body(route, method, query, body)
            req = Request(method, path, params, headers, request_id, path_args)
            if route.auth is not None:
                self._authenticate(route, req)
            if route.auth == "api" and method == "POST" and \
                    (key := headers.get("idempotency-key")):
                return self._idempotent(route, req, key)
            return self._call(route, req)
        except (StripeError, OAuthError) as exc:
            return Response(exc.status, exc.body())

    @staticmethod
    def _route(method: str, path: str) -> tuple[Route | None, dict]:
        for route in ROUTES:
            if route.method == method and (match := route.pattern.match(path)):
                return route, match.groupdict()
        return None, {}

    def _authenticate(self, route: Route, req: Request) -> None:
        # Connect's OAuth endpoints also take the key as a `client_secret` parameter.
        client_secret = req.params.pop("client_secret", None) if route.auth == "oauth" else None
        key = _api_key(req.headers, client_secret)
        if key != self.api_key:
            message = (f"Invalid API Key provided: {mask_key(key)}" if key else
                       "You did not provide an API key. You need to provide your API key in "
                       "the Authorization header, using Bearer auth (e.g. 'Authorization: "
                       "Bearer YOUR_SECRET_KEY').")
            if route.auth == "oauth":
                raise OAuthError(401, "invalid_client", message)
            raise StripeError(401, message)
        account_id = req.headers.get("stripe-account")
        if account_id and account_id != self.store.platform["id"]:
            if not self.store.has_access(account_id):
                raise no_access(self.api_key, account_id)
            req.owner = account_id

    def _idempotent(self, route: Route, req: Request, key: str) -> Response:
        req.idempotency_key = key
        scope = (req.owner, key)
        fingerprint = json.dumps([req.method, req.path, req.params], sort_keys=True)
        saved = self._idempotency.begin(scope, fingerprint)
        if saved is not None:
            return Response(saved.status, copy.deepcopy(saved.body), {
                "Idempotent-Replayed": "true",
                "Original-Request": saved.headers["Request-Id"],
            })
        response = Response(500, {"error": {"type": "api_error", "message": "Internal error"}})
        try:
            response = self._call(route, req)
        except (StripeError, OAuthError) as exc:
            response = Response(exc.status, exc.body())
        finally:
            response.headers["Request-Id"] = req.request_id
            self._idempotency.finish(scope, response)
        return response

    def _call(self, route: Route, req: Request) -> Response:
        result = route.handler(self, req)
        if isinstance(result, Response):
            return result
        if route.auth == "api" and result.get("object") != "list":
            result = api.expand(self, req, result)
        return Response(200, result)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stripe-standin"
    # Headers and body go out in two writes; with Nagle on, keep-alive clients wait 40 ms each.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        standin: StripeStandin = self.server.standin  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            # Lower-cased, so that curl users may spell headers as they like.
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = standin.handle(method, self.path, headers, body)
        except Exception:
            log.exception("%s %s crashed", method, urlsplit(self.path).path)
            response = Response(500, {"error": {"type": "api_error",
                                                "message": "The stand-in crashed; see its log."}})
        if isinstance(response.body, str):
            payload = response.body.encode()
            content_type = "text/html; charset=utf-8"
        else:
            payload = (json.dumps(response.body, indent=2) + "\n").encode()
            content_type = "application/json"
        # Only method, path and status: queries and bodies may hold codes, keys or emails.
        log.info("%s %s %s", method, urlsplit(self.path).path, response.status)
        self.send_response(response.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        pass  # replaced by the one line per request above
