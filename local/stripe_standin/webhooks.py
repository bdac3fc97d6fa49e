"""Webhook delivery like Stripe's: signed POSTs from a background thread, with retries, and a
pause switch that holds deliveries back instead of dropping them."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .errors import StripeError
from .state import Store

log = logging.getLogger("stripe_standin")

USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # Stripe counts a redirect as a failed delivery; following it would hide a wrong URL.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# No proxies: endpoints are local, and an inherited HTTP(S)_PROXY would swallow the requests.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def post(url: str, body: bytes, secret: str, timeout: float) -> tuple[int | None, str | None]:
    """(HTTP status, error) of one signed delivery; status is None when nothing came back."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature_header(body, secret, int(time.time())),
        "User-Agent": USER_AGENT,
        "Cache-Control": "no-cache",
        "Accept": "*/*; q=0.5, application/xml",
    })
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    event_id: str = field(compare=False)
    endpoint_id: str = field(compare=False)
    try_number: int = field(compare=False)


class Dispatcher:
    """Delivers events of a Store: one worker thread, a queue ordered by due time."""

    def __init__(self, store: Store, *, retry_delays: tuple[float, ...] = (0.5, 2.0),
                 timeout: float = 10.0) -> None:
        self.store = store
        self.retry_delays = retry_delays
        self.timeout = timeout
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="stripe-standin-webhooks",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def enqueue(self, event_id: str, endpoint_ids: list[str]) -> None:
        with self._cond:
            for endpoint_id in endpoint_ids:
                self._push(time.monotonic(), event_id, endpoint_id, 1)
            self._cond.notify_all()

    def _push(self, due: float, event_id: str, endpoint_id: str, try_number: int) -> None:
        heapq.heappush(self._jobs, _Job(due, next(self._seq), event_id, endpoint_id, try_number))

    def set_paused(self, paused: bool) -> int:
        """Returns how many deliveries are queued."""
        with self._cond:
            self._paused = paused
            self._cond.notify_all()
            return len(self._jobs)

    @property
    def paused(self) -> bool:
        return self._paused

    def clear(self) -> None:
        """Drops queued deliveries and resumes: back to how a new stand-in starts."""
        with self._cond:
            self._jobs.clear()
            self._paused = False
            self._cond.notify_all()

    def deliver_now(self, event_id: str, times: int = 1) -> list[dict]:
        """Sends the event to the endpoints that match it now, in the caller's thread."""
        endpoint_ids = self.store.endpoints_for(event_id)
        return [entry for _ in range(times) for endpoint_id in endpoint_ids
                if (entry := self._attempt(event_id, endpoint_id)) is not None]

    def _attempt(self, event_id: str, endpoint_id: str) -> dict | None:
        delivery = self.store.delivery(event_id, endpoint_id)
        if delivery is None:
            return None
        url, secret, body = delivery
        status, error = post(url, body, secret, self.timeout)
        return self.store.record_delivery(event_id, endpoint_id, status=status, error=error)

    def _next_job(self) -> _Job | None:
        with self._cond:
            while not self._stopping:
                wait = None
                if self._jobs and not self._paused:
                    wait = self._jobs[0].due - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._jobs)
                self._cond.wait(wait)
            return None

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                entry = self._attempt(job.event_id, job.endpoint_id)
            except StripeError:
                continue  # the event went away with a reset
            except Exception:
                # One broken delivery must not stop all the others.
                log.exception("webhook delivery of %s failed", job.event_id)
                entry = {"status": None}
            succeeded = entry is None or (entry["status"] is not None
                                          and 200 <= entry["status"] < 300)
            if not succeeded and job.try_number <= len(self.retry_delays):
                with self._cond:
                    self._push(time.monotonic() + self.retry_delays[job.try_number - 1],
                               job.event_id, job.endpoint_id, job.try_number + 1)
