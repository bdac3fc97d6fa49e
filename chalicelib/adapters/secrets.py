"""Secrets from SSM Parameter Store (SecureString under one path), cached for a few minutes."""

from __future__ import annotations

import time
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
