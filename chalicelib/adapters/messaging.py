"""SQS for incoming Stripe events, EventBridge for notifications to the platform."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.payments import PAYMENT_UPDATED
from chalicelib.domain.webhooks import EventEnvelope

# The one envelope of every notification: Source, DetailType (the detail's `type`), Detail.
NOTIFICATION_SOURCE = "stripe-bridge"
NOTIFICATION_DETAIL_TYPE = PAYMENT_UPDATED  # payments' notifications written before `type`


class SqsEventQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, envelope: EventEnvelope, body: str, origin: str | None = None) -> None:
        # Attributes let the consumer route and dedupe without parsing the body first.
        attributes = {
            "event_id": envelope.event_id,
            "event_type": envelope.type,
            "livemode": str(envelope.livemode).lower(),
        }
        if envelope.account:
            attributes["account"] = envelope.account
        if origin:
            # Who queued it (recovery), for the payment's history; a webhook sets none.
            attributes["origin"] = origin
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        )

    def delete(self, receipt_handle: str) -> None:
        self._client.delete_message(QueueUrl=self._queue_url, ReceiptHandle=receipt_handle)


class EventBridgeNotifier:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, notification: Mapping[str, Any]) -> None:
        response = self._client.put_events(
            Entries=[
                {
                    "EventBusName": self._bus_name,
                    "Source": NOTIFICATION_SOURCE,
                    # Each notification names its type; those written before it did were
                    # payments' (an outbox may still hold one).
                    "DetailType": notification.get("type", NOTIFICATION_DETAIL_TYPE),
                    "Detail": json.dumps(notification, sort_keys=True),
                }
            ]
        )
        # put_events answers 200 even when an entry was refused; that must not pass as sent.
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise RuntimeError(
                f"EventBridge refused notification {notification['notification_id']}: "
                f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
            )
