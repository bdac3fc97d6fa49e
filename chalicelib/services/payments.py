"""The platform's payment requests: start a payment on a connected account, read it back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from chalicelib.domain.errors import Conflict, NotFound
from chalicelib.domain.history import SYNC, HistoryEntry, Reading, reading
from chalicelib.domain.metadata import SigningKeys, payment_metadata
from chalicelib.domain.payment_requests import StartPayment
from chalicelib.domain.payments import (
    Payment,
    observe_charge,
    observe_payment_intent,
)
from chalicelib.ports import AccountStore, Notifier, PaymentHistory, PaymentStore, StripeGateway
from chalicelib.services.transitions import record


def payment_history(
    payments: PaymentStore, history: PaymentHistory, payment_id: str
) -> tuple[Payment, list[HistoryEntry]]:
    """The payment and what changed it, and when, its creation first."""
    payment = payments.get(payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return payment, history.history(payment_id)


def new_payment_id() -> str:
    return f"pay_{uuid.uuid4().hex}"


@dataclass(frozen=True)
class StartedPayment:
    payment: Payment
    client_secret: str  # the PaymentIntent's, for the checkout; never stored
    # Signed metadata the checkout puts on a Source made for this payment (and for its amount):
    # the only Source the service will charge for it.
    source_metadata: dict[str, str]


@dataclass
class PaymentsService:
    payments: PaymentStore
    accounts: AccountStore
    stripe: StripeGateway
    notifier: Notifier
    clock: Callable[[], str]
    keys: SigningKeys
    new_id: Callable[[], str] = new_payment_id

    def start(self, request: StartPayment) -> StartedPayment:
        """Create the PaymentIntent on the company's account and store the pending payment."""
        account = self.accounts.connected_for_company(request.company_id)
        if account is None:
            raise NotFound(f"company {request.company_id} has no connected Stripe account")
        if account.is_pending:
            raise Conflict(
                f"the Stripe account of company {request.company_id} awaits its admin's "
                "authorisation; send them a connect link"
            )
        if not account.has_access:
            raise Conflict(
                f"the Stripe account of company {request.company_id} is disconnected; "
                "reconnect it before taking payments"
            )
        payment = Payment(
            payment_id=self.new_id(),
            company_id=request.company_id,
            account_id=account.account_id,
            amount=request.amount,
            currency=request.currency,
            invoices=request.invoices,
            created_at=self.clock(),
        )
        params = {
            "amount": payment.amount,
            "currency": payment.currency,
            "metadata": payment_metadata(payment, self.keys),
        }
        if request.description:
            params["description"] = request.description
        # Keyed on our payment id: a retried call cannot create a second PaymentIntent.
        intent = self.stripe.create_payment_intent(
            account.account_id, params, idempotency_key=f"create-{payment.payment_id}"
        )
        payment = replace(payment, payment_intent_id=intent["id"])
        try:
            self.payments.insert(payment)
        except Conflict:
            # A webhook got here first and rebuilt the record from the PaymentIntent.
            stored = self.payments.get(payment.payment_id)
            if stored is None or stored.payment_intent_id != payment.payment_intent_id:
                raise
            payment = stored
        return StartedPayment(
            payment, intent["client_secret"], payment_metadata(payment, self.keys)
        )

    def get(self, payment_id: str) -> Payment:
        payment = self.payments.get(payment_id)
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        return payment

    def sync(self, payment_id: str) -> Payment:
        """The customer came back: re-read Stripe and apply it, as a webhook would."""
        payment = self.get(payment_id)
        observe = self._reader(payment)
        if observe is None:
            return payment
        return record(self.payments, self.notifier, payment, observe, self.clock(), cause=SYNC)

    def _reader(self, payment: Payment) -> Callable[[], Reading] | None:
        """How Stripe is asked about the payment: its PaymentIntent, else its Charge."""
        account_id, intent_id, charge_id = (
            payment.account_id,
            payment.payment_intent_id,
            payment.charge_id,
        )
        if intent_id is not None:

            def intent() -> Reading:
                fresh = self.stripe.retrieve_payment_intent(account_id, intent_id)
                return reading(fresh, observe_payment_intent(fresh))

            return intent
        if charge_id is not None:
            # Paid from a legacy Source: the Charge is all Stripe has.
            def charge() -> Reading:
                fresh = self.stripe.retrieve_charge(account_id, charge_id)
                return reading(fresh, observe_charge(fresh))

            return charge
        return None
