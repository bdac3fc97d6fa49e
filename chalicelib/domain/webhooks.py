"""What the service does with a verified Stripe event: queue it or acknowledge and drop it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import InvalidInput, WebhookRejected

HANDLED_EVENT_TYPES = (
    "source.chargeable",
    "charge.succeeded",
    "customer.source.updated",
    "payment_intent.processing",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.partially_funded",
    "payment_intent.canceled",
    "account.application.deauthorized",
)
MAX_BODY_BYTES = 256 * 1024
# Stripe's own default: a signature older than this is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


class Verdict(StrEnum):
    QUEUE = "queued"
    IGNORED_TYPE = "ignored_type"
    IGNORED_MODE = "ignored_mode"
    IGNORED_PENDING = "ignored_pending"  # an account its admin has not authorised yet


@dataclass(frozen=True)
class EventEnvelope:
    """The fields of a Stripe event that route and dedupe it, without its payload."""

    event_id: str
    type: str
    account: str | None
    livemode: bool


def envelope_of(event: Mapping[str, Any]) -> EventEnvelope:
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id.startswith("evt_"):
        raise InvalidInput("id", "is not a Stripe event id")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidInput("type", "is missing")
    account = event.get("account")
    if account is not None and not isinstance(account, str):
        raise InvalidInput("account", "must be a string")
    livemode = event.get("livemode")
    if not isinstance(livemode, bool):
        raise InvalidInput("livemode", "must be true or false")
    return EventEnvelope(event_id, event_type, account, livemode)


def for_endpoint(envelope: EventEnvelope, dedicated_account: str | None) -> EventEnvelope:
    """The envelope as this endpoint may take it: every event names the account it is for."""
    if dedicated_account is None:
        # The platform's Connect endpoint only gets connected accounts' events; one without an
        # account would fail in the consumer for days of Stripe retries.
        if envelope.account is None:
            raise WebhookRejected("missing_account", "a Connect event names its account")
        return envelope
    # An account's own endpoint may omit `account`; it must never name another one.
    if envelope.account not in (None, dedicated_account):
        raise WebhookRejected("account_mismatch", "event belongs to another account")
    return replace(envelope, account=dedicated_account)


def check_not_ahead(signature_header: str | None, now: float) -> None:
    """Refuse a signature dated in the future: Stripe's check only bounds how old it may be.

    A timestamp far ahead would keep a captured delivery replayable long after the tolerance.
    Every `t=` is checked, whichever one a verifier reads.
    """
    for item in (signature_header or "").split(","):
        key, _, value = item.partition("=")
        if key.strip() != "t":
            continue
        try:
            timestamp = int(value)
        except ValueError:
            continue  # not a timestamp at all: the signature check refuses it
        if timestamp > now + SIGNATURE_TOLERANCE_SECONDS:
            raise WebhookRejected("bad_signature", "no valid signature for this endpoint")


def decide(envelope: EventEnvelope, stage_livemode: bool) -> Verdict:
    # A live Connect endpoint also receives test-mode events; they are not ours to act on.
    if envelope.livemode != stage_livemode:
        return Verdict.IGNORED_MODE
    if envelope.type not in HANDLED_EVENT_TYPES:
        return Verdict.IGNORED_TYPE
    return Verdict.QUEUE


def dedicated_webhook_url(public_base_url: str, account_id: str) -> str:
    """The URL an admin pastes into their own Stripe dashboard for one connected account."""
    return f"{public_base_url.rstrip('/')}/webhooks/stripe/{account_id}"


def webhook_overview(public_base_url: str, account_id: str) -> dict[str, Any]:
    """What an admin needs to configure their account's webhook endpoint in Stripe."""
    return {
        "url": dedicated_webhook_url(public_base_url, account_id),
        "enabled_events": list(HANDLED_EVENT_TYPES),
    }


# One metric per kind of rejection; the precise reason goes to the log line.
REJECTION_METRICS = {
    "missing_signature": "WebhookRejectedSignature",
    "bad_signature": "WebhookRejectedSignature",
    "disconnected_account": "WebhookRejectedAccount",
    "account_mismatch": "WebhookRejectedAccount",
    "missing_account": "WebhookRejectedAccount",
}
REJECTED_MALFORMED_METRIC = "WebhookRejectedMalformed"
OUTCOME_METRICS = {
    Verdict.QUEUE: "WebhookQueued",
    Verdict.IGNORED_TYPE: "WebhookIgnoredType",
    Verdict.IGNORED_MODE: "WebhookIgnoredMode",
    Verdict.IGNORED_PENDING: "WebhookIgnoredPending",
}
