"""Secrets from SSM Parameter Store (SecureString under one path), cached for a few minutes.

Read with an SSM client (SsmSecrets), or through the Parameters and Secrets Lambda Extension
when the function has that layer (ExtensionSecrets): no SDK client on the webhook's cold path.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any


class MissingSecret(Exception):
    """A secret the service needs is not configured."""


class SsmSecrets:
    def __init__(
        self,
        client: Any,
        path: str,
        max_age_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._path = path.rstrip("/")
        self._max_age = max_age_seconds
        self._clock = clock
        self._values: dict[str, str] = {}
        self._loaded_at: float | None = None

    def get(self, name: str) -> str:
        value = self._all().get(name)
        if not value:
            raise MissingSecret(f"secret {self._path}/{name} is not set")
        return value

    def get_optional(self, name: str) -> str | None:
        return self._all().get(name) or None

    def _all(self) -> dict[str, str]:
        # A rolled secret reaches every warm Lambda within max_age, without a redeploy.
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at > self._max_age:
            self._values = self._load()
            self._loaded_at = now
        return self._values

    def _load(self) -> dict[str, str]:
        values: dict[str, str] = {}
        paginator = self._client.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=self._path, WithDecryption=True, Recursive=False):
            for parameter in page["Parameters"]:
                values[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Value"]
        return values

    def put(self, name: str, value: str) -> None:
        """Store a secret (operator commands; the Lambdas only read)."""
        self._client.put_parameter(
            Name=f"{self._path}/{name}", Value=value, Type="SecureString", Overwrite=True
        )
        self._loaded_at = None


class SecretsUnavailable(Exception):
    """The secrets could not be read (refused, unreachable, or an answer not understood)."""


class ExtensionSecrets:
    """The same secrets read through the AWS Parameters and Secrets Lambda Extension (a layer).

    No SDK client on the way: a GET to the extension on localhost, which asks Parameter Store
    and caches each parameter for SSM_PARAMETER_STORE_TTL seconds (at most and by default 300).
    Nothing is cached here as well, so a rolled secret is seen within that TTL, no later.
    The extension answers during invocations only, never during the Lambda's init: this is
    called lazily, from a request.
    """

    def __init__(
        self,
        port: int,
        path: str,
        token: Callable[[], str | None] = lambda: os.environ.get("AWS_SESSION_TOKEN"),
        host: str = "localhost",
        timeout_seconds: float = 2.0,
    ) -> None:
        self._base = f"http://{host}:{port}/systemsmanager/parameters/get"
        self._path = path.rstrip("/")
        # Read at each call: the function's credentials (and their session token) change.
        self._token = token
        self._timeout = timeout_seconds

    def get(self, name: str) -> str:
        value = self.get_optional(name)
        if value is None:
            raise MissingSecret(f"secret {self._path}/{name} is not set")
        return value

    def get_optional(self, name: str) -> str | None:
        full_name = f"{self._path}/{name}"
        query = urllib.parse.urlencode({"name": full_name, "withDecryption": "true"})
        request = urllib.request.Request(
            f"{self._base}?{query}",
            headers={"X-Aws-Parameters-Secrets-Token": self._token() or ""},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code in (400, 404):
                # How the extension answers a parameter that does not exist.
                return None
            # Never the body: it may repeat what was asked, and says nothing useful here.
            raise SecretsUnavailable(
                f"the parameters extension answered {error.code} for {full_name}"
            ) from None
        except (OSError, ValueError) as error:
            raise SecretsUnavailable(
                f"the parameters extension could not be read for {full_name}: "
                f"{type(error).__name__}"
            ) from None
        try:
            value = answer["Parameter"]["Value"]
        except (KeyError, TypeError):
            raise SecretsUnavailable(
                f"the parameters extension gave no Parameter.Value for {full_name}"
            ) from None
        if not isinstance(value, str):
            raise SecretsUnavailable(f"the parameters extension gave a non-string for {full_name}")
        return value or None
