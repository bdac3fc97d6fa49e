"""The SQS consumer: each queued Stripe event is repaired once, a failing one never blocks others.

Under plain `chalice deploy` the event source mapping cannot report partial batch failures, so
each message is deleted from the queue as soon as it is handled, and the handler raises at the
end if any failed: Lambda then returns only the failed ones to the queue (the rest are gone),
and after the queue's maxReceiveCount SQS moves a message that keeps failing to the DLQ.
With ReportBatchItemFailures on the mapping the failed ones are returned instead (sqs_batches).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from chalicelib import wiring
from chalicelib.domain.errors import MalformedEvent, StripeUnavailable
from chalicelib.domain.failures import failure_reason
from chalicelib.observability import count, logger
from chalicelib.sqs_batches import BatchIncomplete, answer

__all__ = ["BatchIncomplete", "consume", "consume_batch", "run_batch"]


def run_batch(
    records: list[Mapping[str, Any]],
    handle: Callable[[Mapping[str, Any]], str],
    delete: Callable[[str], None],
    record_failure: Callable[[Mapping[str, Any], Exception], None] = lambda record, error: None,
) -> list[str]:
    """Handle each record; delete the ones handled; raise BatchIncomplete for the others.

    Once Stripe is found unavailable, the rest of the batch goes back to the queue untried:
    each would otherwise wait out its own timeouts and retries, and the batch its Lambda's.
    """
    failed: list[str] = []
    outcomes = []
    stripe_down = False
    for record in records:
        if stripe_down:
            record_failure(record, StripeUnavailable("not tried: Stripe unavailable in its batch"))
            failed.append(record["messageId"])
            continue
        attributes = record.get("messageAttributes") or {}
        keys = {name: (attributes.get(name) or {}).get("stringValue") for name in _KEYS}
        logger.append_keys(**keys)
        try:
            outcome = handle(record)
        except StripeUnavailable as error:
            logger.exception("Stripe unavailable; this event and the rest of the batch will retry")
            record_failure(record, error)
            count("EventFailed")
            failed.append(record["messageId"])
            stripe_down = True
            continue
        except Exception as error:
            logger.exception("event failed; it will be retried")
            record_failure(record, error)
            count("EventFailed")
            failed.append(record["messageId"])
            continue
        finally:
            logger.remove_keys(list(_KEYS))
        outcomes.append(outcome)
        count(f"Event_{outcome}")
        try:
            delete(record["receiptHandle"])
        except Exception:
            # Harmless: the message comes back and is recognised as already handled.
            logger.exception("could not delete a handled message")
    if failed:
        raise BatchIncomplete(failed)
    return outcomes


_KEYS = ("event_id", "event_type", "account")


def consume_batch(event: Mapping[str, Any], context: Any) -> dict[str, Any] | None:
    """The consumer Lambda's answer: the failed messages, as its event source mapping reads them."""
    return answer(lambda: consume(event, context), wiring.settings().reports_batch_item_failures)


def consume(event: Mapping[str, Any], context: Any) -> list[str]:
    def handle(record: Mapping[str, Any]) -> str:
        message = _message(record)
        if _applied_by_version(message):
            # The payment's conditional write on its version is the record that this event
            # was applied: handled twice, it finds nothing left to do (and asks Stripe nothing).
            return _handle(repair, message)
        idempotent, config = _idempotent_handler()
        if context is not None:
            config.register_lambda_context(context)
        return _handle(idempotent, message)

    return run_batch(event["Records"], handle, wiring.event_queue().delete, _record_failure)


def _applied_by_version(message: Mapping[str, Any]) -> bool:
    from chalicelib.services.repair import QueuedEvent, applied_by_version

    try:
        kind = QueuedEvent.from_body(message["body"]).envelope.type
    except MalformedEvent:
        return False
    return applied_by_version(kind)


def repair(message: Mapping[str, Any]) -> str:
    """Repair from one queued event; its outcome."""
    from chalicelib.domain.history import Cause, CauseKind
    from chalicelib.services.repair import Outcome, QueuedEvent

    try:
        event = QueuedEvent.from_body(message["body"])
    except MalformedEvent as malformed:
        # Reading it again will not help: acknowledged, never sent to the dead letters.
        logger.warning("queued event not understood; ignored", extra={"reason": str(malformed)})
        return str(Outcome.IGNORED_MALFORMED)
    if message.get("account"):
        event = replace(event, envelope=replace(event.envelope, account=message["account"]))
    kind = CauseKind.RECOVERY if message.get("origin") == "recovery" else CauseKind.WEBHOOK
    cause = Cause(kind, event.envelope.event_id, event.envelope.type)
    return str(wiring.repairer().handle(event, cause))


def _handle(handle: Callable[..., str], message: dict[str, Any]) -> str:
    from chalicelib.domain.accounts import AccountPendingAuthorization
    from chalicelib.services.repair import Outcome

    try:
        return handle(message=message)
    except AccountPendingAuthorization:
        # Acknowledged; idempotency kept no record of it (it was raised through), so the same
        # event listed again by recovery after the admin's authorisation is applied then.
        logger.info("event for an account pending authorisation; not acted on")
        return str(Outcome.IGNORED_PENDING)


def _record_failure(record: Mapping[str, Any], error: Exception) -> None:
    """Keep why the event failed, for `python -m ops dlq list`: SQS keeps no reason."""
    attributes = record.get("messageAttributes") or {}
    keys = {name: (attributes.get(name) or {}).get("stringValue") for name in _KEYS}
    if not keys["event_id"]:
        return  # nothing to key it on; the message itself is listed all the same
    try:
        wiring.event_failures().record(
            keys["account"], keys["event_id"], keys["event_type"], failure_reason(error)
        )
    except Exception:
        # The event is retried whether or not its reason was kept.
        logger.exception("could not record why the event failed")


def _message(record: Mapping[str, Any]) -> dict[str, Any]:
    attributes = record.get("messageAttributes") or {}
    event_id = (attributes.get("event_id") or {}).get("stringValue")
    if not event_id:
        raise ValueError("message has no event_id attribute")
    # The queue's account attribute is authoritative: events sent to an account's dedicated
    # URL may carry no `account` in their body.
    account = (attributes.get("account") or {}).get("stringValue")
    origin = (attributes.get("origin") or {}).get("stringValue")
    return {"event_id": event_id, "account": account, "body": record["body"], "origin": origin}


@cache
def _idempotent_handler() -> tuple[Callable[..., str], Any]:
    # Imported here: Powertools idempotency is heavy and only the consumer needs it.
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    settings = wiring.settings()
    config = IdempotencyConfig(
        # Keyed on the account too: a holder who signs events for their own dedicated URL
        # can pick any event id, and must not shadow another account's genuine event.
        event_key_jmespath="[account, event_id]",
        expires_after_seconds=settings.idempotency_expiry_seconds,
    )
    layer = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table, boto3_client=wiring.aws("dynamodb")
    )

    @idempotent_function(data_keyword_argument="message", persistence_store=layer, config=config)
    def handle(message: dict[str, Any]) -> str:
        return repair(message)

    return handle, config


def reset() -> None:
    _idempotent_handler.cache_clear()
