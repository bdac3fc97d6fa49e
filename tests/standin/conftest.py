"""Fixtures for the Stripe stand-in tests: a started stand-in, the real SDK pointed at it, the
control API, and a webhook receiver."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from local.stripe_standin import StripeStandin
from tests.waiting import wait_until

API_KEY = "sk_test_standin"
CLIENT_ID = "ca_standin"


def eventually(check: Callable, timeout: float = 5.0):
    """Polls `check` until it returns something truthy (webhooks arrive on another thread)."""
    return wait_until(check, timeout, str(check), interval=0.01)


class Control:
    """The stand-in's control API (JSON)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def post(self, path: str, body: dict | None = None) -> dict:
        status, answer = self.call("POST", path, body or {})
        assert status == 200, answer
        return answer

    def get(self, path: str) -> dict:
        status, answer = self.call("GET", path)
        assert status == 200, answer
        return answer

    def account(self, account_id: str = "acct_demo", **fields) -> str:
        return self.post("/_standin/accounts", {"id": account_id, **fields})["account"]["id"]

    def event_types(self, account: str | None = None) -> list[str]:
        query = f"?account={account}" if account else ""
        return [r["event"]["type"] for r in self.get("/_standin/events" + query)["data"]]


class Receiver:
    """A webhook endpoint: records what arrives on each path, answers with chosen statuses."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: dict[str, list[int]] = {}  # path → statuses to answer, in turn
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    queued = receiver.statuses.get(self.path) or [200]
                    status = queued.pop(0) if len(queued) > 1 else queued[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def received(self, path: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def events(self, path: str) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received(path)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def standin():
    with StripeStandin(
        port=0, api_key=API_KEY, client_id=CLIENT_ID, retry_delays=(0.05, 0.1)
    ) as server:
        yield server


@pytest.fixture
def client(standin: StripeStandin) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY, client_id=CLIENT_ID, base_addresses={"api": standin.url, "connect": standin.url}
    )


@pytest.fixture
def control(standin: StripeStandin) -> Control:
    return Control(standin.url)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()
