"""Webhook ingest: verify, decide, queue. The 2xx goes out only once the queue holds the event."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillRunning
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from chalicelib.domain.errors import InvalidInput, WebhookRejected
from chalicelib.domain.webhooks import (
    MAX_BODY_BYTES,
    EventEnvelope,
    Verdict,
    check_not_ahead,
    decide,
    envelope_of,
    for_endpoint,
)
from chalicelib.observability import logger
from chalicelib.ports import AccountStore, EventQueue, EventVerifier, WebhookHealthStore

_ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,64}")


@cache
def _no_account_secret() -> str:
    """Checked against when the URL names no usable account, so that such a request costs the
    same HMAC as one for a real account and fails the same way; nobody knows this value.

    Made at the first such request, not at import: under SnapStart whatever import makes is
    restored, identical, in every copy of the function.
    """
    return f"whsec_{secrets.token_hex(24)}"


# A delivery's answer waits this long at most for its health count, written meanwhile.
HEALTH_WAIT_SECONDS = 0.25


class EnqueueFailed(Exception):
    """The queue did not accept a verified event: answer 5xx so that Stripe retries."""

    def __init__(self, envelope: EventEnvelope) -> None:
        super().__init__(f"event {envelope.event_id} could not be queued")
        self.envelope = envelope


@dataclass(frozen=True)
class Ingested:
    verdict: Verdict
    envelope: EventEnvelope


def ingest(
    raw_body: bytes,
    signature_header: str | None,
    verifier: EventVerifier,
    queue: EventQueue,
    livemode: bool,
    now: Callable[[], float] = time.time,
) -> Ingested:
    """Verify and queue one delivery to the platform's Connect endpoint."""
    _check_size(raw_body)
    event = _verified(raw_body, signature_header, verifier, now)
    return _accept(event, raw_body, queue, livemode, dedicated_account=None)


def ingest_for_account(
    account_id: str,
    raw_body: bytes,
    signature_header: str | None,
    accounts: AccountStore,
    make_verifier: Callable[[Sequence[str]], EventVerifier],
    queue: EventQueue,
    livemode: bool,
    now: Callable[[], float] = time.time,
    health: Callable[[], WebhookHealthStore] | None = None,
) -> Ingested:
    """A delivery to one account's dedicated URL, checked with that account's own secrets.

    Until a signature verifies, the answer is the same whether the account is unknown, has no
    secret or exists: the URL is public and must not tell who is connected.

    A known account's delivery is counted (verified or refused) for its webhook health, once
    the answer is decided: one write, and its failure never fails the delivery.
    """
    _check_size(raw_body)
    account = accounts.get(account_id) if _ACCOUNT_ID.fullmatch(account_id) else None
    account_secrets = account.webhook_secrets if account is not None else ()
    try:
        event = _verified(
            raw_body,
            signature_header,
            make_verifier(account_secrets or (_no_account_secret(),)),
            now,
        )
    except WebhookRejected:
        if account is None or not account_secrets:
            # For the operator only: the caller gets the same answer as for a bad signature.
            logger.warning(
                "webhook for an account that cannot take one",
                extra={"account_state": "no_secret" if account else "unknown_account"},
            )
        if account is not None:
            _settle(_count_delivery(health, account.account_id, False, now))
        raise
    if account is None:  # unreachable: nothing verifies against the unknown secret
        raise WebhookRejected("bad_signature", "no valid signature for this endpoint")
    # Written while the event is queued: the answer waits for the slower of the two only.
    counting = _count_delivery(health, account.account_id, True, now)
    try:
        if account.is_pending:
            # Acknowledged: Stripe stops retrying; recovery lists it again once it is connected.
            envelope = for_endpoint(_envelope(event), account_id)
            return Ingested(Verdict.IGNORED_PENDING, envelope)
        if not account.has_access:
            raise WebhookRejected("disconnected_account", "this account is disconnected")
        return _accept(event, raw_body, queue, livemode, dedicated_account=account_id)
    finally:
        _settle(counting)


@cache
def _background() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhook-health")


def _count_delivery(
    health: Callable[[], WebhookHealthStore] | None,
    account_id: str,
    verified: bool,
    now: Callable[[], float],
) -> Future[None] | None:
    """Best effort: one write, started beside the delivery's own work; its failure is logged,
    never the delivery's.

    Only known accounts are counted, so the public URL cannot grow the table with made-up ids.
    """
    if health is None:
        return None
    try:
        store, at = health(), datetime.fromtimestamp(now(), UTC)
        return _background().submit(_record, store, account_id, verified, at)
    except Exception as failure:
        _not_recorded(account_id, failure)
        return None


def _record(store: WebhookHealthStore, account_id: str, verified: bool, at: datetime) -> None:
    try:
        store.record(account_id, verified, at)
    except Exception as failure:
        _not_recorded(account_id, failure)


def _settle(counting: Future[None] | None) -> None:
    """Wait a little for the count: a slow store delays the answer HEALTH_WAIT_SECONDS at most."""
    if counting is None:
        return
    try:
        counting.result(timeout=HEALTH_WAIT_SECONDS)
    except StillRunning:
        logger.warning("webhook health still being recorded; answering without it")


def _not_recorded(account_id: str, failure: Exception) -> None:
    logger.warning(
        "webhook health not recorded",
        extra={"account": account_id, "reason": type(failure).__name__},
    )


def _verified(
    raw_body: bytes,
    signature_header: str | None,
    verifier: EventVerifier,
    now: Callable[[], float],
) -> dict[str, Any]:
    event = verifier.verify(raw_body, signature_header)
    check_not_ahead(signature_header, now())
    return event


def _accept(
    event: Mapping[str, Any],
    raw_body: bytes,
    queue: EventQueue,
    livemode: bool,
    dedicated_account: str | None,
) -> Ingested:
    envelope = for_endpoint(_envelope(event), dedicated_account)
    verdict = decide(envelope, livemode)
    if verdict is Verdict.QUEUE:
        try:
            queue.send(envelope, raw_body.decode("utf-8"))
        except Exception as failure:
            raise EnqueueFailed(envelope) from failure
    return Ingested(verdict, envelope)


def _envelope(event: Mapping[str, Any]) -> EventEnvelope:
    try:
        return envelope_of(event)
    except InvalidInput as error:
        raise WebhookRejected("malformed_event", str(error)) from None


def _check_size(raw_body: bytes) -> None:
    if len(raw_body) > MAX_BODY_BYTES:
        raise WebhookRejected("body_too_large", f"body larger than {MAX_BODY_BYTES} bytes")
