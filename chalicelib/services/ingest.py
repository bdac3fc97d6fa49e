"""Webhook ingest: verify, decide, queue. The 2xx goes out only once the queue holds the event."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from chalicelib.domain.errors import InvalidInput, WebhookRejected
from chalicelib.domain.webhooks import (
    MAX_BODY_BYTES,
    EventEnvelope,
    Verdict,
    decide,
    envelope_of,
)
from chalicelib.ports import AccountStore, EventQueue, EventVerifier

_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


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
    account_id: str | None = None,
) -> Ingested:
    """Verify and queue one delivery; account_id is set for an account's dedicated URL."""
    _check_size(raw_body)
    event = verifier.verify(raw_body, signature_header)
    try:
        envelope = envelope_of(event)
    except InvalidInput as error:
        raise WebhookRejected("malformed_event", str(error)) from None
    if account_id is not None:
        # An account's own endpoint may omit `account`; it must never name another one.
        if envelope.account not in (None, account_id):
            raise WebhookRejected("account_mismatch", "event belongs to another account")
        envelope = replace(envelope, account=account_id)
    verdict = decide(envelope, livemode)
    if verdict is Verdict.QUEUE:
        try:
            queue.send(envelope, raw_body.decode("utf-8"))
        except Exception as failure:
            raise EnqueueFailed(envelope) from failure
    return Ingested(verdict, envelope)


def ingest_for_account(
    account_id: str,
    raw_body: bytes,
    signature_header: str | None,
    accounts: AccountStore,
    make_verifier: Callable[[Sequence[str]], EventVerifier],
    queue: EventQueue,
    livemode: bool,
) -> Ingested:
    """A delivery to one account's dedicated URL, checked with that account's own secrets."""
    _check_size(raw_body)
    if not _ACCOUNT_ID.match(account_id):
        raise WebhookRejected("unknown_account", "not a connected account id")
    account = accounts.get(account_id)
    if account is None:
        raise WebhookRejected("unknown_account", "no such connected account")
    if not account.is_connected:
        raise WebhookRejected("disconnected_account", "this account is disconnected")
    if not account.webhook_secrets:
        raise WebhookRejected("no_secret", "no signing secret is set for this account")
    return ingest(
        raw_body,
        signature_header,
        make_verifier(account.webhook_secrets),
        queue,
        livemode,
        account_id=account_id,
    )


def _check_size(raw_body: bytes) -> None:
    if len(raw_body) > MAX_BODY_BYTES:
        raise WebhookRejected("body_too_large", f"body larger than {MAX_BODY_BYTES} bytes")
