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
from chalicelib.domain.metadata import payment_id_of, rebuild_payment, rebuild_payment_from_source
from chalicelib.domain.payment_methods import observe_bank_account
from chalicelib.domain.payments import (
    Observation,
    Payment,
    expandable_id,
    observe_charge,
    observe_payment_intent,
)
from chalicelib.domain.sources import CHARGEABLE, charge_idempotency_key, charge_params, may_charge
from chalicelib.domain.webhooks import EventEnvelope
from chalicelib.observability import logger
from chalicelib.ports import AccountStore, Notifier, PaymentMethodStore, PaymentStore, StripeGateway
from chalicelib.services.payment_methods import record_bank_account
from chalicelib.services.transitions import link_source, record

DEAUTHORIZED = "account.application.deauthorized"


class Outcome(StrEnum):
    APPLIED = "applied"
    DISCONNECTED = "disconnected"
    IGNORED_ACCOUNT = "ignored_account"
    IGNORED_FOREIGN = "ignored_foreign"
    IGNORED_STATE = "ignored_state"
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
    payment_methods: PaymentMethodStore

    def handle(self, event: QueuedEvent) -> Outcome:
        kind, account_id = event.envelope.type, event.envelope.account or ""
        if kind == DEAUTHORIZED:
            return self._deauthorized(account_id)
        account = self.accounts.get(account_id)
        if account is None or not account.is_connected:
            return Outcome.IGNORED_ACCOUNT
        object_id = event.data_object["id"]
        if kind.startswith("payment_intent."):
            return self._payment_intent(account, object_id)
        if kind == "charge.succeeded":
            return self._charge(account, object_id)
        if kind == "source.chargeable":
            return self._source(account, object_id)
        if kind == "customer.source.updated":
            return self._customer_source(account, event.data_object)
        return Outcome.IGNORED_TYPE

    def _payment_intent(self, account: ConnectedAccount, payment_intent_id: str) -> Outcome:
        intent = self.stripe.retrieve_payment_intent(account.account_id, payment_intent_id)
        payment = self._payment_for(intent, account, rebuild_payment)
        if payment is None:
            return _not_ours(intent)

        def observe() -> Observation:
            return observe_payment_intent(
                self.stripe.retrieve_payment_intent(account.account_id, payment_intent_id)
            )

        first = observe_payment_intent(intent)
        record(self.payments, self.notifier, payment, observe, self.clock(), first)
        return Outcome.APPLIED

    def _charge(self, account: ConnectedAccount, charge_id: str) -> Outcome:
        charge = self.stripe.retrieve_charge(account.account_id, charge_id)
        payment_intent_id = expandable_id(charge.get("payment_intent"))
        if payment_intent_id is not None:
            return self._payment_intent(account, payment_intent_id)
        # A legacy charge, made from a Source: no PaymentIntent to ask.
        payment = self._payment_of_charge(charge, account)
        if payment is None:
            return _not_ours(charge)
        self._record_charge(account, payment, charge)
        return Outcome.APPLIED

    def _source(self, account: ConnectedAccount, source_id: str) -> Outcome:
        source = self.stripe.retrieve_source(account.account_id, source_id)
        if payment_id_of(source.get("metadata")) is None:
            return _not_ours(source)
        if source.get("status") != CHARGEABLE:
            return _left_alone(source, "the source is not chargeable (any more)")
        payment = self._payment_for(source, account, rebuild_payment_from_source)
        if payment is None:
            return _not_ours(source)
        if may_charge(payment, source):
            payment = link_source(self.payments, payment, source["id"], self.clock())
        if not may_charge(payment, source):
            return _left_alone(source, f"payment {payment.payment_id} is {payment.status}")
        charge = self.stripe.create_charge(
            account.account_id,
            charge_params(payment, source),
            idempotency_key=charge_idempotency_key(source["id"]),
        )
        self._record_charge(account, payment, charge)
        return Outcome.APPLIED

    def _record_charge(
        self, account: ConnectedAccount, payment: Payment, charge: dict[str, Any]
    ) -> None:
        def observe() -> Observation:
            return observe_charge(self.stripe.retrieve_charge(account.account_id, charge["id"]))

        first = observe_charge(charge)
        record(self.payments, self.notifier, payment, observe, self.clock(), first)

    def _customer_source(self, account: ConnectedAccount, source: dict[str, Any]) -> Outcome:
        # Cards and Sources attached to customers are not saved payment methods of ours.
        if source.get("object") != "bank_account" or not source.get("customer"):
            return Outcome.IGNORED_TYPE
        bank_account = self.stripe.retrieve_bank_account(
            account.account_id, source["customer"], source["id"]
        )
        record_bank_account(
            self.payment_methods,
            observe_bank_account(bank_account, account.account_id),
            self.clock(),
        )
        return Outcome.APPLIED

    def _deauthorized(self, account_id: str) -> Outcome:
        account = self.accounts.get(account_id)
        if account is None:
            return Outcome.IGNORED_ACCOUNT
        # A late delivery must not cut off an account that has connected again since.
        if account.is_connected and self.stripe.account_is_connected(account_id):
            logger.warning("deauthorization not applied: the account is still connected")
            return Outcome.IGNORED_STATE
        self.accounts.mark_disconnected(account_id, self.clock())
        return Outcome.DISCONNECTED

    def _payment_for(
        self,
        stripe_object: dict[str, Any],
        account: ConnectedAccount,
        rebuild: Callable[[dict[str, Any], str], Payment | None],
    ) -> Payment | None:
        payment_id = payment_id_of(stripe_object.get("metadata"))
        if payment_id is None:
            return None
        payment = self.payments.get(payment_id)
        if payment is None:
            # Ours, but never stored (the API died between Stripe and DynamoDB): rebuild it.
            rebuilt = rebuild(stripe_object, account.account_id)
            if rebuilt is None:
                return None
            try:
                self.payments.insert(rebuilt)
            except Conflict:
                payment = self.payments.get(payment_id)
            else:
                payment = rebuilt
        return _of_account(payment, account)

    def _payment_of_charge(
        self, charge: dict[str, Any], account: ConnectedAccount
    ) -> Payment | None:
        payment_id = payment_id_of(charge.get("metadata"))
        payment = self.payments.get(payment_id) if payment_id else None
        if payment is None:
            payment = self.payments.find_by_charge(charge["id"])
        source_id = expandable_id(charge.get("source"))
        if payment is None and source_id is not None:
            payment = self.payments.find_by_source(source_id)
        return _of_account(payment, account)


def _of_account(payment: Payment | None, account: ConnectedAccount) -> Payment | None:
    # Metadata is written by whoever creates the object: another account's object never
    # settles this account's payment.
    if payment is not None and payment.account_id != account.account_id:
        logger.warning(
            "object names a payment of another account",
            extra={"payment_id": payment.payment_id},
        )
        return None
    return payment


def _not_ours(stripe_object: dict[str, Any]) -> Outcome:
    logger.info(
        "not created by this service; ignored",
        extra={"object": stripe_object.get("object"), "object_id": stripe_object.get("id")},
    )
    return Outcome.IGNORED_FOREIGN


def _left_alone(stripe_object: dict[str, Any], reason: str) -> Outcome:
    logger.info(
        "left alone",
        extra={
            "object_id": stripe_object.get("id"),
            "status": stripe_object.get("status"),
            "reason": reason,
        },
    )
    return Outcome.IGNORED_STATE
