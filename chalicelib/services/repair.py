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

from chalicelib.domain.accounts import AccountPendingAuthorization, ConnectedAccount
from chalicelib.domain.errors import (
    Conflict,
    CurrencyMismatch,
    MalformedEvent,
    MalformedObject,
    StripeRejected,
)
from chalicelib.domain.history import Cause, CauseKind, Reading, StripeObjectRead, reading
from chalicelib.domain.metadata import (
    NotOurs,
    SigningKeys,
    claimed_payment,
    rebuilt,
    settled_by,
    signed_payment,
)
from chalicelib.domain.payment_methods import observe_bank_account
from chalicelib.domain.payments import (
    Payment,
    apply,
    expandable_id,
    observe_charge,
    observe_payment_intent,
)
from chalicelib.domain.sources import (
    CHARGEABLE,
    charge_idempotency_key,
    charge_params,
    may_charge,
    payment_intent_closed,
)
from chalicelib.domain.webhooks import EventEnvelope
from chalicelib.observability import logger
from chalicelib.ports import AccountStore, Notifier, PaymentMethodStore, PaymentStore, StripeGateway
from chalicelib.services.payment_methods import record_bank_account
from chalicelib.services.transitions import link_source, publish_pending, record

DEAUTHORIZED = "account.application.deauthorized"


def applied_by_version(event_type: str) -> bool:
    """Events whose only effect is a payment's conditional write on its version, decided on
    Stripe's current state: handling one twice finds nothing left to do, so they need no
    other record of having been handled."""
    return event_type.startswith("payment_intent.") or event_type == "charge.succeeded"


class Outcome(StrEnum):
    APPLIED = "applied"
    DISCONNECTED = "disconnected"
    IGNORED_ACCOUNT = "ignored_account"
    IGNORED_FOREIGN = "ignored_foreign"
    IGNORED_MALFORMED = "ignored_malformed"
    IGNORED_MISSING = "ignored_missing"
    IGNORED_PENDING = "ignored_pending"  # the account awaits its admin's authorisation
    IGNORED_STATE = "ignored_state"
    IGNORED_TYPE = "ignored_type"


@dataclass(frozen=True)
class QueuedEvent:
    envelope: EventEnvelope
    data_object: dict[str, Any]

    @classmethod
    def from_body(cls, body: str) -> QueuedEvent:
        try:
            event = json.loads(body)
            envelope = EventEnvelope(
                event["id"], event["type"], event.get("account"), event["livemode"]
            )
            data_object = event["data"]["object"]
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            raise MalformedEvent(f"unreadable event: {type(error).__name__}") from None
        if not isinstance(data_object, dict) or not isinstance(data_object.get("id"), str):
            raise MalformedEvent("the event names no object")
        if not all(isinstance(v, str) for v in (envelope.event_id, envelope.type)):
            raise MalformedEvent("the event's id or type is not a string")
        return cls(envelope, data_object)


@dataclass
class Repairer:
    payments: PaymentStore
    accounts: AccountStore
    stripe: StripeGateway
    notifier: Notifier
    clock: Callable[[], str]
    payment_methods: PaymentMethodStore
    keys: SigningKeys

    def handle(self, event: QueuedEvent, cause: Cause | None = None) -> Outcome:
        """Repair what the event is about; `cause` names what brought it (default: a webhook)."""
        if cause is None:
            cause = Cause(CauseKind.WEBHOOK, event.envelope.event_id, event.envelope.type)
        try:
            return self._handle(event, cause)
        except StripeRejected as rejected:
            # The object does not exist on this account (a forged or foreign id): asking
            # again will not make it exist.
            if rejected.status == 404:
                logger.info(
                    "object not found on the account; ignored",
                    extra={"object_id": event.data_object.get("id"), "code": rejected.code},
                )
                return Outcome.IGNORED_MISSING
            if rejected.code == "account_invalid":
                # The platform lost access to the account (its deauthorization may still be
                # on its way): nothing can be read or done for it, now or later.
                logger.info("the platform has no access to the account; ignored")
                return Outcome.IGNORED_ACCOUNT
            raise
        except MalformedObject as malformed:
            logger.warning(
                "Stripe object not understood; ignored",
                extra={"object_id": event.data_object.get("id"), "reason": str(malformed)},
            )
            return Outcome.IGNORED_MALFORMED

    def _handle(self, event: QueuedEvent, cause: Cause) -> Outcome:
        kind, account_id = event.envelope.type, event.envelope.account or ""
        account = self.accounts.get(account_id)
        if account is not None and account.is_pending:
            # Nothing can be read as it yet. Raised, not returned: the event is not remembered
            # as handled, so recovery brings it back once the account is connected.
            raise AccountPendingAuthorization(account_id)
        if kind == DEAUTHORIZED:
            return self._deauthorized(account_id)
        named = self._named_payment(event) if applied_by_version(kind) else None
        if named is not None and named.nothing_new:
            # What the event shows is recorded already: Stripe is not asked again.
            publish_pending(self.payments, self.notifier, named.payment.payment_id)
            return Outcome.APPLIED
        if account is None or not account.has_access:
            return Outcome.IGNORED_ACCOUNT
        object_id = event.data_object["id"]
        if named is not None:
            return self._payment_intent(account, named.payment_intent_id, cause, named.payment)
        if kind.startswith("payment_intent."):
            return self._payment_intent(account, object_id, cause)
        if kind == "charge.succeeded":
            return self._charge(account, object_id, cause)
        if kind == "source.chargeable":
            return self._source(account, object_id, cause)
        if kind == "customer.source.updated":
            return self._customer_source(account, event.data_object)
        return Outcome.IGNORED_TYPE

    def _named_payment(self, event: QueuedEvent) -> _Named | None:
        """The stored payment whose own PaymentIntent the event's object is (or is a Charge
        of), found from the object's signed metadata, and whether the object shows anything
        the payment does not know yet.

        The event's copy of the object only says where to look and whether to look: nothing
        is ever written from it.
        """
        shown, account_id = event.data_object, event.envelope.account
        signed = signed_payment(shown.get("metadata"), self.keys)
        if isinstance(signed, NotOurs) or signed.account_id != account_id:
            return None
        is_charge = shown.get("object") == "charge"
        payment_intent_id = expandable_id(shown.get("payment_intent")) if is_charge else shown["id"]
        if payment_intent_id is None:
            return None  # a legacy Charge: settled by itself, found by its own indexes
        payment = self.payments.get(signed.payment_id)
        if payment is None or payment.payment_intent_id != payment_intent_id:
            return None
        try:
            seen = observe_charge(shown) if is_charge else observe_payment_intent(shown)
            nothing_new = apply(payment, seen, self.clock()) is None
        except (MalformedObject, CurrencyMismatch):
            nothing_new = False
        return _Named(payment, payment_intent_id, nothing_new)

    def _payment_intent(
        self,
        account: ConnectedAccount,
        payment_intent_id: str,
        cause: Cause,
        read: Payment | None = None,
    ) -> Outcome:
        """Apply the PaymentIntent to its payment. With `read`, the payment as read just
        before: then Stripe is read once, and that read is what gets applied."""
        intent = self.stripe.retrieve_payment_intent(account.account_id, payment_intent_id)
        if read is not None:
            payment: Payment | NotOurs = self._settles(intent, account, read)
        else:
            payment = self._own_payment(intent, account, cause, payment_intent_id=intent["id"])
        if isinstance(payment, NotOurs):
            return _not_ours(intent, payment)
        self._record_payment_intent(account, payment, intent, cause, read_after=read is not None)
        return Outcome.APPLIED

    def _settles(
        self, intent: dict[str, Any], account: ConnectedAccount, read: Payment
    ) -> Payment | NotOurs:
        signed = claimed_payment(intent, account, self.keys)
        if isinstance(signed, NotOurs):
            return signed
        return settled_by(read, signed, payment_intent_id=intent["id"])

    def _record_payment_intent(
        self,
        account: ConnectedAccount,
        payment: Payment,
        intent: dict[str, Any],
        cause: Cause,
        read_after: bool = False,
    ) -> Payment:
        """Record the PaymentIntent; `read_after`: it was read after the payment was."""
        reads = [intent] if read_after else []

        def observe() -> Reading:
            # A read made after the payment's read may decide its write; after a lost write,
            # Stripe is read again.
            fresh = reads.pop() if reads else None
            fresh = fresh or self.stripe.retrieve_payment_intent(account.account_id, intent["id"])
            return reading(fresh, observe_payment_intent(fresh))

        first = None if read_after else observe_payment_intent(intent)
        return record(self.payments, self.notifier, payment, observe, self.clock(), first, cause)

    def _charge(self, account: ConnectedAccount, charge_id: str, cause: Cause) -> Outcome:
        charge = self.stripe.retrieve_charge(account.account_id, charge_id)
        payment_intent_id = expandable_id(charge.get("payment_intent"))
        if payment_intent_id is not None:
            return self._payment_intent(account, payment_intent_id, cause)
        # A legacy charge, made from a Source: only the payment bound to it, or to its Source.
        payment = self._payment_of_charge(charge, account)
        if payment is None:
            return _not_ours(charge, NotOurs("no payment is bound to this Charge or its Source"))
        self.record_charge(account, payment, charge, cause)
        return Outcome.APPLIED

    def _source(self, account: ConnectedAccount, source_id: str, cause: Cause) -> Outcome:
        source = self.stripe.retrieve_source(account.account_id, source_id)
        payment = self._own_payment(source, account, cause, source_id=source["id"])
        if isinstance(payment, NotOurs):
            return _not_ours(source, payment)
        return self.charge_source(account, payment, source, cause)

    def charge_source(
        self, account: ConnectedAccount, payment: Payment, source: dict[str, Any], cause: Cause
    ) -> Outcome:
        """Charge the payment's chargeable Source, once (after closing its PaymentIntent)."""
        if source.get("status") != CHARGEABLE:
            return _left_alone(source, "the source is not chargeable (any more)")
        if may_charge(payment, source):
            read = StripeObjectRead("source", source["id"], source.get("status"))
            payment = link_source(self.payments, payment, source["id"], self.clock(), cause, read)
        if not may_charge(payment, source):
            return _left_alone(source, f"payment {payment.payment_id} is {payment.status}")
        if not self._close_payment_intent(account, payment, cause):
            return _left_alone(source, "the payment's PaymentIntent is paying or has paid it")
        charge = self.stripe.create_charge(
            account.account_id,
            charge_params(payment, source, self.keys),
            idempotency_key=charge_idempotency_key(source["id"]),
        )
        self.record_charge(account, payment, charge, cause)
        return Outcome.APPLIED

    def _close_payment_intent(
        self, account: ConnectedAccount, payment: Payment, cause: Cause
    ) -> bool:
        """One payment, one settlement: its PaymentIntent is canceled before its Source is
        charged. False when the PaymentIntent is paying or has paid (its state is applied)."""
        if payment.payment_intent_id is None:
            return True
        try:
            intent = self.stripe.cancel_payment_intent(
                account.account_id, payment.payment_intent_id
            )
        except StripeRejected as rejected:
            if rejected.code != "payment_intent_unexpected_state":
                raise
            intent = self.stripe.retrieve_payment_intent(
                account.account_id, payment.payment_intent_id
            )
        if payment_intent_closed(intent):
            return True
        self._record_payment_intent(account, payment, intent, cause)
        return False

    def record_charge(
        self, account: ConnectedAccount, payment: Payment, charge: dict[str, Any], cause: Cause
    ) -> Payment:
        """Apply the Charge (of a legacy Source) to the payment, read again from Stripe."""

        def observe() -> Reading:
            fresh = self.stripe.retrieve_charge(account.account_id, charge["id"])
            return reading(fresh, observe_charge(fresh))

        first = observe_charge(charge)
        return record(self.payments, self.notifier, payment, observe, self.clock(), first, cause)

    def record_payment_intent(
        self, account: ConnectedAccount, payment: Payment, cause: Cause
    ) -> Payment:
        """Apply the payment's PaymentIntent, read from Stripe now (after `payment` was read,
        so that one read decides the write)."""
        assert payment.payment_intent_id is not None
        intent = self.stripe.retrieve_payment_intent(account.account_id, payment.payment_intent_id)
        return self._record_payment_intent(account, payment, intent, cause, read_after=True)

    def _customer_source(self, account: ConnectedAccount, source: dict[str, Any]) -> Outcome:
        # Cards and Sources attached to customers are not saved payment methods of ours.
        if source.get("object") != "bank_account" or not source.get("customer"):
            return Outcome.IGNORED_TYPE
        bank_account = self.stripe.retrieve_bank_account(
            account.account_id, source["customer"], source["id"]
        )
        record_bank_account(
            self.payment_methods,
            self.notifier,
            observe_bank_account(bank_account, account.account_id),
            account.company_id,
            self.clock(),
        )
        return Outcome.APPLIED

    def _deauthorized(self, account_id: str) -> Outcome:
        account = self.accounts.get(account_id)
        if account is None:
            return Outcome.IGNORED_ACCOUNT
        # A late delivery must not cut off an account that has connected again since.
        if account.has_access and self.stripe.account_is_connected(account_id):
            logger.warning("deauthorization not applied: the account is still connected")
            return Outcome.IGNORED_STATE
        self.accounts.mark_disconnected(account_id, self.clock())
        return Outcome.DISCONNECTED

    def _own_payment(
        self,
        stripe_object: dict[str, Any],
        account: ConnectedAccount,
        cause: Cause,
        payment_intent_id: str | None = None,
        source_id: str | None = None,
    ) -> Payment | NotOurs:
        """The payment this object of the account may settle, stored (or rebuilt) first."""
        signed = claimed_payment(stripe_object, account, self.keys)
        if isinstance(signed, NotOurs):
            return signed
        stored = self.payments.get(signed.payment_id)
        if stored is None:
            # Ours, but never stored (the API died between Stripe and DynamoDB): rebuild it.
            payment = rebuilt(signed, payment_intent_id, source_id)
            try:
                self.payments.insert(
                    payment, Cause(CauseKind.REBUILT, cause.event_id, cause.event_type)
                )
            except Conflict:
                stored = self.payments.get(signed.payment_id)
            else:
                return payment
        if stored is None:
            return NotOurs("the payment vanished")
        return settled_by(stored, signed, payment_intent_id, source_id)

    def _payment_of_charge(
        self, charge: dict[str, Any], account: ConnectedAccount
    ) -> Payment | None:
        payment = self.payments.find_by_charge(charge["id"])
        source_id = expandable_id(charge.get("source"))
        if payment is None and source_id is not None:
            payment = self.payments.find_by_source(source_id)
        return _of_account(payment, account)


@dataclass(frozen=True)
class _Named:
    payment: Payment
    payment_intent_id: str
    nothing_new: bool


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


def _not_ours(stripe_object: dict[str, Any], why: NotOurs) -> Outcome:
    logger.info(
        "not a payment of this service; ignored",
        extra={
            "object": stripe_object.get("object"),
            "object_id": stripe_object.get("id"),
            "reason": why.reason,
        },
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
