"""A loopback server that plays AWS and Stripe for the cold-start benchmark.

Recording, it forwards each call to the real emulators (moto, the Stripe stand-in) and keeps
the answers; replaying, it answers the same calls from memory, so a timed Lambda pays only for
its own client work, not for the emulators'. Each call is named by what it asks (an AWS API's
`X-Amz-Target`, a Stripe method and path), which also counts the calls of each run.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "date", "server"}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class Calls:
    """The calls one run made, in order: ("aws", "<X-Amz-Target>") or ("stripe", "GET /v1/…")."""

    made: list[tuple[str, str]] = field(default_factory=list)

    def aws(self) -> list[str]:
        return [name for kind, name in self.made if kind == "aws"]

    def stripe(self) -> list[str]:
        return [name for kind, name in self.made if kind == "stripe"]

    def stripe_gets(self) -> int:
        return sum(1 for name in self.stripe() if name.startswith("GET "))


class ReplayServer:
    def __init__(self, aws_upstream: str, stripe_upstream: str) -> None:
        self.upstreams = {"aws": aws_upstream, "stripe": stripe_upstream}
        self.recording = True
        self._answers: dict[tuple[str, str], list[Answer]] = defaultdict(list)
        self._served: dict[tuple[str, str], int] = defaultdict(int)
        self.calls = Calls()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self) -> Calls:
        """Forget what was recorded; forward and keep what the next run asks."""
        with self._lock:
            self.recording = True
            self._answers.clear()
            self.calls = Calls()
            return self.calls

    def replay(self) -> Calls:
        """Answer the next run from what was recorded, in the same order."""
        with self._lock:
            self.recording = False
            self._served.clear()
            self.calls = Calls()
            return self.calls

    def _answer(self, kind: str, name: str, method: str, path: str, headers, body: bytes):
        key = (kind, name)
        with self._lock:
            self.calls.made.append(key)
            recording = self.recording
            if not recording:
                answers = self._answers.get(key)
                if not answers:
                    return Answer(599, (), f"nothing recorded for {name}".encode())
                index = min(self._served[key], len(answers) - 1)
                self._served[key] += 1
                return answers[index]
        answer = _forward(self.upstreams[kind], method, path, headers, body)
        with self._lock:
            self._answers[key].append(answer)
        return answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, delayed ACKs add 40 ms.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._serve()

            do_POST = do_DELETE = do_PUT = do_GET

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                kind, name = _name(self.command, self.path, self.headers)
                answer = server._answer(kind, name, self.command, self.path, self.headers, body)
                self.send_response(answer.status)
                for header, value in answer.headers:
                    self.send_header(header, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _name(method: str, path: str, headers) -> tuple[str, str]:
    target = headers.get("X-Amz-Target")
    if target:
        return "aws", target
    if (headers.get("Authorization") or "").startswith("AWS4-"):
        return "aws", f"{method} {urllib.parse.urlsplit(path).path}"
    return "stripe", f"{method} {urllib.parse.urlsplit(path).path}"


def _forward(upstream: str, method: str, path: str, headers, body: bytes) -> Answer:
    target = urllib.parse.urlsplit(upstream)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    try:
        sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
        connection.request(method, path, body=body or None, headers=sent)
        response = connection.getresponse()
        kept = tuple((k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP)
        return Answer(response.status, kept, response.read())
    finally:
        connection.close()
