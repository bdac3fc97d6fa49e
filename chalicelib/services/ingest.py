"""Webhook ingest: verify, decide, queue. The 2xx goes out only once the queue holds the event."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.errors import InvalidInput, WebhookRejected
from chalicelib.domain.webhooks import (
    MAX_BODY_BYTES,
    EventEnvelope,
    Verdict,
    decide,
    envelope_of,
)
from chalicelib.ports import EventQueue, EventVerifier


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
) -> Ingested:
    if len(raw_body) > MAX_BODY_BYTES:
        raise WebhookRejected("body_too_large", f"body larger than {MAX_BODY_BYTES} bytes")
    event = verifier.verify(raw_body, signature_header)
    try:
        envelope = envelope_of(event)
    except InvalidInput as error:
        raise WebhookRejected("malformed_event", str(error)) from None
    verdict = decide(envelope, livemode)
    if verdict is Verdict.QUEUE:
        try:
            queue.send(envelope, raw_body.decode("utf-8"))
        except Exception as failure:
            raise EnqueueFailed(envelope) from failure
    return Ingested(verdict, envelope)
