"""A local stand-in for the AWS Parameters and Secrets Lambda Extension, over a real SSM.

It answers `GET /systemsmanager/parameters/get?name=…&withDecryption=true` as the layer does
inside a Lambda: only with the function's session token in `X-Aws-Parameters-Secrets-Token`,
with the JSON of SSM GetParameter, 400 for a parameter that does not exist. The values come
from the SSM client it is given (moto in tests). It caches nothing, as with a TTL of 0, and
keeps a log of what it was asked, values left out.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
PARAMETER_PATH = "/systemsmanager/parameters/get"


@dataclass(frozen=True)
class Asked:
    """One request the stand-in answered: the parameter's name and the status it gave."""

    name: str | None
    with_decryption: bool
    status: int


class ParametersExtension:
    def __init__(self, ssm_client: Any, token: str, host: str = "127.0.0.1", port: int = 0):
        self.ssm = ssm_client
        self.token = token
        self.requests: list[Asked] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def asked(self) -> list[str | None]:
        """The names asked for so far, in order."""
        with self._lock:
            return [request.name for request in self.requests]

    def answer(self, path: str, headers: Any) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        name = (query.get("name") or [None])[0]
        decrypt = (query.get("withDecryption") or ["false"])[0].lower() == "true"
        status, body = self._answer(parts.path, name, decrypt, headers.get(TOKEN_HEADER))
        with self._lock:
            self.requests.append(Asked(name, decrypt, status))
        return status, body

    def _answer(
        self, path: str, name: str | None, decrypt: bool, token: str | None
    ) -> tuple[int, dict[str, Any]]:
        if path != PARAMETER_PATH:
            return 404, {"message": "not found"}
        if not self.token or token != self.token:
            return 401, {"message": "missing or wrong " + TOKEN_HEADER}
        if not name:
            return 400, {"message": "name is required"}
        try:
            found = self.ssm.get_parameter(Name=name, WithDecryption=decrypt)
        except self.ssm.exceptions.ParameterNotFound:
            return 400, {"message": "ParameterNotFound"}
        found.pop("ResponseMetadata", None)
        return 200, found

    def start(self) -> ParametersExtension:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="parameters-extension", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ParametersExtension:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler(extension: ParametersExtension) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            status, body = extension.answer(self.path, self.headers)
            payload = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log above says what was asked, never a value

    return Handler
