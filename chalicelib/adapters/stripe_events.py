"""Stripe's event list for a connected account, read with the service's StripeClient."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import stripe

from chalicelib.adapters.stripe_api import _translated_errors

PAGE_SIZE = 100  # the most Stripe returns per page


class StripeEventLog:
    """Lists events as the account; calls are at least `min_interval` seconds apart.

    The spacing bounds the request rate of one Lambda container (it runs one invocation at a
    time), so the recovery worker's concurrency times 1/min_interval bounds the whole fleet.
    """

    def __init__(
        self,
        client: stripe.StripeClient,
        min_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._min_interval = min_interval
        self._clock, self._sleep = clock, sleep
        self._last_call: float | None = None

    def list_events(
        self, account_id: str, types: Sequence[str], since: int, until: int, max_pages: int
    ) -> list[dict[str, Any]] | None:
        params: dict[str, Any] = {
            "types": list(types),
            "created": {"gte": since, "lt": until},
            "limit": PAGE_SIZE,
        }
        events: list[dict[str, Any]] = []
        for _ in range(max_pages):
            self._pace()
            with _translated_errors():
                page = self._client.v1.events.list(
                    params,  # type: ignore[arg-type]
                    {"stripe_account": account_id},
                )
            events.extend(event.to_dict() for event in page.data)
            if not page.has_more or not page.data:
                return events
            params["starting_after"] = page.data[-1].id
        return None

    def _pace(self) -> None:
        if self._last_call is not None:
            wait = self._min_interval - (self._clock() - self._last_call)
            if wait > 0:
                self._sleep(wait)
        self._last_call = self._clock()
