"""A local stand-in for Lambda's SQS event source mapping.

`chalice local` serves HTTP only, so this polls the queue and invokes the consumer as Lambda would.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("local.sqs_trigger")

Handler = Callable[[dict, Any], Any]

_MAX_RECEIVE = 10  # SQS hands out at most 10 messages per ReceiveMessage call
_MAX_BACKOFF_SECONDS = 5.0


class LambdaContext:
    """The context object Lambda's Python runtime passes to a handler."""

    def __init__(
        self,
        function_name: str,
        region: str,
        account_id: str,
        timeout_seconds: float,
        memory_limit_in_mb: int,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        # The runtime reads this from an environment variable and passes it on as a string.
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class SqsTrigger:
    """Polls a queue and hands batches to a handler, with Lambda's delete-or-retry rules.

    A batch is deleted when the handler returns; when it raises (or outlives its timeout, which
    Lambda would end by killing it) nothing is deleted, so SQS redelivers the messages after the
    queue's visibility timeout and moves them to the dead-letter queue after maxReceiveCount.
    A returned {"batchItemFailures": [...]} keeps only the listed messages, as Lambda does when
    the mapping reports batch item failures; report_batch_item_failures=False mimics a mapping
    without that setting, which deletes the whole batch whatever the handler returns.
    """

    def __init__(
        self,
        sqs_client: Any,
        queue_url: str,
        handler: Handler,
        batch_size: int = 10,
        max_batching_window_seconds: float = 0,
        wait_time_seconds: int = 1,
        function_name: str = "consume_events",
        region: str = "us-east-1",
        timeout_seconds: float = 30,
        memory_limit_in_mb: int = 128,
        report_batch_item_failures: bool = True,
    ) -> None:
        # The limits Lambda puts on an SQS event source mapping of a standard queue.
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        if batch_size > _MAX_RECEIVE and max_batching_window_seconds < 1:
            raise ValueError("a batch_size above 10 needs max_batching_window_seconds >= 1")
        if not 0 <= max_batching_window_seconds <= 300:
            raise ValueError("max_batching_window_seconds must be between 0 and 300")
        if not 0 <= wait_time_seconds <= 20:
            raise ValueError("wait_time_seconds must be between 0 and 20")
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.max_batching_window_seconds = max_batching_window_seconds
        self.wait_time_seconds = wait_time_seconds
        self.function_name = function_name
        self.region = region
        self.timeout_seconds = timeout_seconds
        self.memory_limit_in_mb = memory_limit_in_mb
        self.report_batch_item_failures = report_batch_item_failures
        self._queue_arn: str | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
            )["Attributes"]
            self._queue_arn = attributes["QueueArn"]
        return self._queue_arn

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._poll, name=f"sqs-trigger-{self.function_name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling and wait for the batch in hand, if any, to finish."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _poll(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            try:
                self.run_once()
                backoff = 0.0
            except Exception:
                # A queue briefly out of reach must not end local processing for good.
                backoff = min(_MAX_BACKOFF_SECONDS, max(0.5, backoff * 2))
                logger.exception(
                    "%s: polling %s failed, retrying in %.1f s",
                    self.function_name,
                    self.queue_url,
                    backoff,
                )
                self._stopping.wait(backoff)

    def run_once(self) -> int:
        """Poll one batch and process it; return how many messages the handler was given.

        Handler errors are logged, not raised; errors talking to SQS are raised.
        """
        account_id = self.queue_arn.split(":")[4]
        messages = self._receive_batch()
        if not messages:
            return 0
        event = {"Records": [self._record(message) for message in messages]}
        context = LambdaContext(
            self.function_name,
            self.region,
            account_id,
            self.timeout_seconds,
            self.memory_limit_in_mb,
        )
        started = time.monotonic()
        try:
            result = self.handler(event, context)
            # Lambda returns the result as JSON: one that cannot be encoded fails the invocation.
            json.dumps(result)
        except Exception:
            logger.exception(
                "%s: batch of %d failed, nothing deleted (request %s, messages %s)",
                self.function_name,
                len(messages),
                context.aws_request_id,
                ", ".join(message["MessageId"] for message in messages),
            )
            return len(messages)
        elapsed = time.monotonic() - started
        if elapsed > self.timeout_seconds:
            logger.error(
                "%s: batch of %d took %.1f s, beyond the %s s timeout; nothing deleted",
                self.function_name,
                len(messages),
                elapsed,
                self.timeout_seconds,
            )
            return len(messages)

        failed_ids = self._failed_ids(result, messages)
        if failed_ids is None:
            logger.error(
                "%s: batch of %d returned an invalid batchItemFailures; nothing deleted",
                self.function_name,
                len(messages),
            )
            return len(messages)
        done = [message for message in messages if message["MessageId"] not in failed_ids]
        self._delete(done)
        if failed_ids:
            logger.info(
                "%s: batch of %d partly failed: %d deleted, %d left for retry",
                self.function_name,
                len(messages),
                len(done),
                len(failed_ids),
            )
        else:
            logger.info("%s: batch of %d succeeded", self.function_name, len(messages))
        return len(messages)

    def _receive_batch(self) -> list[dict]:
        messages = self._receive(min(self.batch_size, _MAX_RECEIVE), self.wait_time_seconds)
        if not messages or self.max_batching_window_seconds <= 0:
            return messages
        # Like Lambda, keep gathering until the batch is full or the window has passed.
        window_ends = time.monotonic() + self.max_batching_window_seconds
        while len(messages) < self.batch_size and not self._stopping.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            wanted = min(self.batch_size - len(messages), _MAX_RECEIVE)
            messages += self._receive(wanted, min(20, math.ceil(remaining)))
        return messages

    def _receive(self, count: int, wait_seconds: int) -> list[dict]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _record(self, message: dict) -> dict:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _failed_ids(self, result: Any, messages: list[dict]) -> set[str] | None:
        """Ids the handler reported as failed; None when Lambda would fail the whole batch."""
        if not self.report_batch_item_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures")
        if not failures:
            return set()
        batch_ids = {message["MessageId"] for message in messages}
        failed_ids = set()
        for failure in failures:
            # An empty, unknown or misnamed identifier makes Lambda retry the whole batch.
            item_id = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not item_id or item_id not in batch_ids:
                return None
            failed_ids.add(item_id)
        return failed_ids

    def _delete(self, messages: list[dict]) -> None:
        for start in range(0, len(messages), _MAX_RECEIVE):
            chunk = messages[start : start + _MAX_RECEIVE]
            try:
                response = self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                        for index, message in enumerate(chunk)
                    ],
                )
            except Exception:
                logger.exception(
                    "%s: deleting %d processed messages failed; SQS will deliver them again",
                    self.function_name,
                    len(chunk),
                )
                continue
            for failure in response.get("Failed", []):
                logger.warning(
                    "%s: message %s not deleted (%s); SQS will deliver it again",
                    self.function_name,
                    chunk[int(failure["Id"])]["MessageId"],
                    failure.get("Code"),
                )


def _message_attribute(value: dict) -> dict:
    """A message attribute as ReceiveMessage gives it, in the shape of a Lambda SQS record."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value["DataType"]
    return attribute
