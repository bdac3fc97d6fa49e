"""The repair engine: turns a queued Stripe event into the right state of a payment.

The event is only a hint: the object is fetched again from Stripe, as the connected account,
and Stripe's current state is what gets applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.errors import Conflict
from chalicelib.domain.metadata import payment_id_of, rebuild_payment
from chalicelib.domain.payments import Payment, observe_payment_intent
from chalicelib.domain.webhooks import EventEnvelope
from chalicelib.ports import AccountStore, Notifier, PaymentStore, StripeGateway
from chalicelib.services.transitions import record


class Outcome(StrEnum):
    APPLIED = "applied"
    IGNORED_ACCOUNT = "ignored_account"
    IGNORED_FOREIGN = "ignored_foreign"
    IGNORED_TYPE = "ignored_type"


@dataclass(frozen=True)
class QueuedEvent:
    envelope: EventEnvelope
    data_object: dict[str, Any]

    @classmethod
    def from_body(cls, body: str) -> QueuedEvent:
        event = json.loads(body)
        return cls(
            EventEnvelope(event["id"], event["type"], event.get("account"), event["livemode"]),
            event["data"]["object"],
        )


@dataclass
class Repairer:
    payments: PaymentStore
    accounts: AccountStore
    stripe: StripeGateway
    notifier: Notifier
    clock: Callable[[], str]

    def handle(self, event: QueuedEvent) -> Outcome:
        account = self.accounts.get(event.envelope.account or "")
        if account is None or not account.is_connected:
            return Outcome.IGNORED_ACCOUNT
        if event.envelope.type.startswith("payment_intent."):
            return self._payment_intent(account, event.data_object["id"])
        return Outcome.IGNORED_TYPE

    def _payment_intent(self, account: ConnectedAccount, payment_intent_id: str) -> Outcome:
        intent = self.stripe.retrieve_payment_intent(account.account_id, payment_intent_id)
        payment = self._payment_for(intent, account)
        if payment is None:
            return Outcome.IGNORED_FOREIGN
        record(self.payments, self.notifier, payment, observe_payment_intent(intent), self.clock())
        return Outcome.APPLIED

    def _payment_for(self, intent: dict[str, Any], account: ConnectedAccount) -> Payment | None:
        payment_id = payment_id_of(intent.get("metadata"))
        if payment_id is None:
            return None
        payment = self.payments.get(payment_id)
        if payment is not None:
            return payment
        # Ours, but never stored (the API died between Stripe and DynamoDB): rebuild it.
        rebuilt = rebuild_payment(intent, account.account_id)
        if rebuilt is None:
            return None
        try:
            self.payments.insert(rebuilt)
        except Conflict:
            return self.payments.get(payment_id)
        return rebuilt
