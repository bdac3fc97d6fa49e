"""The dead-letter queue of Stripe events: what sits there and why, and moving it back.

Reading a message from SQS hides it for a while; every message read here is either moved
(sent to the events queue, then deleted) or made visible again before the command ends, so
the queue looks afterwards as if nobody had looked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.failures import EventFailure

# Long enough for one command run to finish with what it read, short enough that a command
# killed half-way leaves the messages hidden for only a minute.
HOLD_SECONDS = 60
_BATCH = 10  # the most SQS receives, sends or deletes in one call


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    message_attributes: dict[str, Any]
    sent_at: float
    receive_count: int

    def attribute(self, name: str) -> str | None:
        value = (self.message_attributes.get(name) or {}).get("StringValue")
        return str(value) if value else None

    @property
    def event_id(self) -> str | None:
        return self.attribute("event_id")

    @property
    def event_type(self) -> str | None:
        return self.attribute("event_type")

    @property
    def account(self) -> str | None:
        return self.attribute("account")


class DeadLetterQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url
        self._held: dict[str, DeadLetter] = {}

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def approximate_size(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def read(self) -> Iterator[list[DeadLetter]]:
        """Every message, in batches, each held (hidden) until moved or released."""
        seen: set[str] = set()
        while True:
            # Long polling asks every SQS server: an empty answer means the queue is empty.
            messages = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=_BATCH,
                WaitTimeSeconds=1,
                VisibilityTimeout=HOLD_SECONDS,
                MessageAttributeNames=["All"],
                AttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            ).get("Messages", [])
            batch = []
            for message in messages:
                letter = _letter(message)
                self._held[letter.message_id] = letter
                if letter.message_id not in seen:
                    seen.add(letter.message_id)
                    batch.append(letter)
            if not batch:
                return
            yield batch

    def move(self, letters: list[DeadLetter], events_url: str) -> list[tuple[DeadLetter, str]]:
        """Send each to the events queue, then delete from here what it accepted.

        One send per message: a batch send is refused whole past 256 KiB, and a webhook body
        alone may be that large. The letters refused stay here, visible again, and are
        returned with the reason.
        """
        refused: list[tuple[DeadLetter, str]] = []
        accepted: list[DeadLetter] = []
        for letter in letters:
            try:
                self.sqs.send_message(
                    QueueUrl=events_url,
                    MessageBody=letter.body,
                    MessageAttributes=letter.message_attributes,
                )
            except ClientError as error:
                detail = error.response.get("Error", {})
                refused.append((letter, f"{detail.get('Code')}: {detail.get('Message', '')}"))
                continue
            accepted.append(letter)
        for start in range(0, len(accepted), _BATCH):
            self._delete(accepted[start : start + _BATCH])
        self.release([letter for letter, _ in refused])
        return refused

    def _delete(self, letters: list[DeadLetter]) -> None:
        answer = self.sqs.delete_message_batch(
            QueueUrl=self.url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": letter.receipt_handle}
                for i, letter in enumerate(letters)
            ],
        )
        for letter in letters:
            self._held.pop(letter.message_id, None)
        if answer.get("Failed"):
            # Queued twice is harmless: the consumer applies an event once whatever its copies.
            raise RuntimeError(
                f"{len(answer['Failed'])} replayed message(s) could not be removed from "
                f"{self.name}; replaying them again is harmless"
            )

    def release(self, letters: Iterable[DeadLetter] | None = None) -> None:
        """Make messages visible again now rather than after the hold (all held by default)."""
        chosen = list(self._held.values()) if letters is None else list(letters)
        for start in range(0, len(chosen), _BATCH):
            batch = chosen[start : start + _BATCH]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                    for i, letter in enumerate(batch)
                ],
            )
            for letter in batch:
                self._held.pop(letter.message_id, None)


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        message_attributes=_sendable(message.get("MessageAttributes", {})),
        sent_at=int(attributes.get("SentTimestamp", 0)) / 1000,
        # As SQS counts: the consumer's receives, earlier listings' too, but not this one.
        receive_count=max(int(attributes.get("ApproximateReceiveCount", 1)) - 1, 0),
    )


def _sendable(attributes: dict[str, Any]) -> dict[str, Any]:
    """The attributes as SendMessage takes them back (SQS answers with empty list fields)."""
    return {
        name: {key: value for key, value in spec.items() if value not in ([], None, "")}
        for name, spec in attributes.items()
    }


def dead_letter_queue_url(sqs: Any, events_url: str, lookup: Callable[[str], str]) -> str:
    """The queue the events queue redrives to: named by the queue itself, not guessed."""
    attributes = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["RedrivePolicy"])
    policy = attributes.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        raise LookupError("the events queue has no dead-letter queue")
    return lookup(json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[-1])


def describe_letter(
    letter: DeadLetter, failure: EventFailure | None, now: float | None = None
) -> dict[str, Any]:
    """One message as `dlq list` shows it."""
    return {
        "event_id": letter.event_id,
        "event_type": letter.event_type,
        "account": letter.account,
        "first_failure": failure.first_reason if failure else None,
        "last_failure": failure.last_reason if failure else None,
        "first_failed_at": failure.first_failed_at if failure else None,
        "failures": failure.failures if failure else None,
        "receive_count": letter.receive_count,
        "age_seconds": int((time.time() if now is None else now) - letter.sent_at),
        "message_id": letter.message_id,
    }


def age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as aligned columns, the free-text reason last."""
    columns = [
        ("EVENT ID", lambda r: r["event_id"]),
        ("TYPE", lambda r: r["event_type"]),
        ("ACCOUNT", lambda r: r["account"]),
        ("FAILED", lambda r: r["failures"]),
        ("RECEIVES", lambda r: r["receive_count"]),
        ("AGE", lambda r: age(r["age_seconds"])),
        ("FIRST FAILURE", lambda r: r["first_failure"] or "(not recorded)"),
    ]
    cells = [[h for h, _ in columns]] + [
        [str(v) if (v := get(row)) is not None else "-" for _, get in columns] for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns) - 1)]
    return [
        "  ".join([*(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)), line[-1]])
        for line in cells
    ]


@dataclass
class Replayed:
    moved: list[DeadLetter]  # or, in a dry run, what would have moved
    refused: list[tuple[DeadLetter, str]]
    left_alone: int


def replay(
    queue: DeadLetterQueue,
    events_url: str,
    wanted: Callable[[DeadLetter], bool],
    dry_run: bool,
    advance: Callable[[int], None] = lambda read: None,
) -> Replayed:
    """Move the wanted messages to the events queue; the others stay as they were.

    The others are held until the end rather than released at once, or the next receive would
    hand them back instead of the messages not read yet; they are released together, at once.
    """
    result = Replayed([], [], 0)
    try:
        for batch in queue.read():
            chosen = [letter for letter in batch if wanted(letter)]
            result.left_alone += len(batch) - len(chosen)
            if dry_run or not chosen:
                result.moved += [] if not dry_run else chosen
            else:
                refused = queue.move(chosen, events_url)
                failed = {letter.message_id for letter, _ in refused}
                result.moved += [letter for letter in chosen if letter.message_id not in failed]
                result.refused += refused
            advance(len(batch))
    finally:
        queue.release()
    return result
