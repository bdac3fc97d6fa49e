"""Any delivery schedule of a customer journey's events ends where in-order delivery ends.

Stripe delivers at least once and in no particular order, while the customer keeps acting.
For each journey, Hypothesis interleaves the customer's acts with deliveries of any event
emitted so far (duplicates included), the platform's own syncs, consumers that lose a race
(they read earlier and write later), and EventBridge outages that make a handling fail and its
event come back. Whatever the schedule, the payment ends in the state that delivering each
event once, right after it happened, gives; each state reached is told to the platform once,
under one notification id, in the order it happened.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.errors import NotFound
from chalicelib.domain.metadata import SigningKeys, payment_metadata
from chalicelib.domain.payment_requests import StartPayment
from chalicelib.domain.payments import InvoiceLine, Payment
from chalicelib.domain.webhooks import Verdict, decide, envelope_of
from chalicelib.services.payments import PaymentsService
from chalicelib.services.repair import QueuedEvent, Repairer
from local.stripe_standin.state import Store
from tests.unit.fakes import (
    MemoryAccounts,
    MemoryPaymentMethods,
    MemoryPayments,
    NotifierDown,
    RecordingNotifier,
    StoreStripe,
)

ACCOUNT = "acct_1Journey"
COMPANY = "co_journey"
PAYMENT_ID = "pay_journey"
KEYS = SigningKeys.parse("unit-journey-metadata-key-0123456789abcdef")
EXAMPLES_PER_JOURNEY = 150
MAX_STEPS = 40

schedules_run = {"count": 0}


@dataclass(frozen=True)
class Journey:
    name: str
    amount: int
    currency: str
    acts: tuple[Callable[[World], Any], ...]
    by_source: bool = False


def pay(method: str, outcome: str | None = None) -> Callable[[World], Any]:
    return lambda world: world.store.pay(world.payment_intent_id, method=method, outcome=outcome)


def settle(world: World) -> Any:
    return world.store.settle(world.payment_intent_id)


def fail_debit(world: World) -> Any:
    return world.store.fail_debit(world.payment_intent_id, code="insufficient_funds")


def fund(amount: int | None) -> Callable[[World], Any]:
    return lambda world: world.store.fund(world.payment_intent_id, amount=amount)


def cancel(world: World) -> Any:
    return world.store.cancel_payment_intent(ACCOUNT, world.payment_intent_id, reason="abandoned")


def source_chargeable(world: World) -> Any:
    return world.store.set_source_status(world.source_id, "chargeable")


JOURNEYS = [
    Journey(
        "card_3ds_abandoned_then_paid", 1500, "usd", (pay("card_3ds", "abandoned"), pay("card_3ds"))
    ),
    Journey("card_declined_then_paid", 1500, "usd", (pay("card", "declined"), pay("card"))),
    Journey("card_declined_then_canceled", 1500, "usd", (pay("card", "declined"), cancel)),
    Journey("ach_processing_then_succeeded", 1500, "usd", (pay("us_bank_account"), settle)),
    Journey(
        "sepa_failed_then_retried",
        2000,
        "eur",
        (pay("sepa_debit"), fail_debit, pay("sepa_debit"), settle),
    ),
    Journey(
        "bank_transfer_in_three_parts",
        1500,
        "usd",
        (pay("customer_balance"), fund(600), fund(500), fund(None)),
    ),
    Journey("legacy_ach_credit_transfer_source", 1500, "usd", (source_chargeable,), by_source=True),
]


class World:
    """One connected account on a fresh Stripe, the service's fakes, and one payment."""

    def __init__(self, journey: Journey, stored: bool) -> None:
        ticks = itertools.count()
        self.store = Store(client_id="ca_test")
        self.store.connect_account(account_id=ACCOUNT)
        self.stripe = StoreStripe(self.store)
        self.payments = MemoryPayments()
        self.notifier = RecordingNotifier()
        accounts = MemoryAccounts(ConnectedAccount(ACCOUNT, COMPANY, False, "2026-01-01"))

        def clock() -> str:
            tick = next(ticks)
            return f"2026-11-29T12:{tick // 60:02d}:{tick % 60:02d}.000+00:00"

        self.repairer = Repairer(
            self.payments, accounts, self.stripe, self.notifier, clock, MemoryPaymentMethods(), KEYS
        )
        self.service = PaymentsService(
            self.payments, accounts, self.stripe, self.notifier, clock, KEYS, lambda: PAYMENT_ID
        )
        self.acts = list(journey.acts)
        self.emitted: list[dict[str, Any]] = []
        self.emitted_at: list[int] = []  # the moment each event was emitted
        self.owed: set[int] = set()  # events not yet handled successfully
        # Stripe's objects and the stored payments after each step, for late readers.
        self.moments: list[tuple[dict[str, dict[str, Any]], dict[str, Payment]]] = []
        self._seen: set[str] = set()
        self.payment_intent_id: str | None = None
        self.source_id: str | None = None
        self._begin(journey, stored)
        self._remember(stripe_changed=True)
        self.collect()

    def _begin(self, journey: Journey, stored: bool) -> None:
        invoices = (InvoiceLine("INV-1", journey.amount),)
        if stored:
            payment = self.service.start(
                StartPayment(COMPANY, journey.amount, journey.currency, invoices)
            ).payment
            self.payment_intent_id = payment.payment_intent_id
        else:
            # The platform's request never got its answer stored: only Stripe knows the payment.
            payment = Payment(
                PAYMENT_ID,
                COMPANY,
                ACCOUNT,
                journey.amount,
                journey.currency,
                invoices,
                "2026-11-29T11:59:00.000+00:00",
            )
            if not journey.by_source:
                self.payment_intent_id = self.store.create_payment_intent(
                    ACCOUNT,
                    amount=journey.amount,
                    currency=journey.currency,
                    metadata=payment_metadata(payment, KEYS),
                    payment_method_types=None,
                    customer=None,
                    description=None,
                )["id"]
        if journey.by_source:
            self.source_id = self.store.create_source(
                ACCOUNT,
                source_type="ach_credit_transfer",
                amount=journey.amount,
                currency=journey.currency,
                metadata=payment_metadata(payment, KEYS),
                customer=None,
                email=None,
            )["id"]

    # --- what happens -------------------------------------------------------------------
    def _remember(self, stripe_changed: bool) -> None:
        if stripe_changed or not self.moments:
            objects = next(
                a["objects"] for a in self.store.dump()["accounts"] if a["account"]["id"] == ACCOUNT
            )
            stripe_now = {obj["id"]: obj for obj in objects}
        else:
            stripe_now = self.moments[-1][0]
        self.moments.append((stripe_now, dict(self.payments.items)))

    def collect(self) -> None:
        """Queue what Stripe emitted since the last look, as the webhook would."""
        for event in reversed(self.store.list_events(ACCOUNT)):
            if event["id"] in self._seen:
                continue
            self._seen.add(event["id"])
            if decide(envelope_of(event), stage_livemode=False) is Verdict.QUEUE:
                self.owed.add(len(self.emitted))
                self.emitted.append(event)
                self.emitted_at.append(len(self.moments) - 1)

    def act(self) -> None:
        self.acts.pop(0)(self)
        self._remember(stripe_changed=True)
        self.collect()

    def deliver(
        self, index: int, eventbridge_down: bool = False, late: LateReads | None = None
    ) -> None:
        """Handle the event, as a consumer that reads now, or (late) one that lost a race."""
        charges_created = self._stripe_writes()
        try:
            with self._conditions(eventbridge_down, late):
                self.repairer.handle(QueuedEvent.from_body(json.dumps(self.emitted[index])))
        except NotifierDown:
            self.owed.add(index)  # the message goes back to the queue
        else:
            if late is None:  # a racing copy does not stand for the fresh one
                self.owed.discard(index)
        stripe_changed = self._stripe_writes() != charges_created
        self._remember(stripe_changed)
        if stripe_changed:
            self.collect()  # the service's own call to Stripe made events too

    def _stripe_writes(self) -> int:
        # The service's own calls that change Stripe: charging a Source, closing a PaymentIntent.
        return sum(self.stripe.calls.count(c) for c in ("create_charge", "cancel_payment_intent"))

    def sync(self, eventbridge_down: bool = False, late: LateReads | None = None) -> None:
        try:
            with self._conditions(eventbridge_down, late):
                self.service.sync(PAYMENT_ID)
        except (NotFound, NotifierDown):
            pass  # a 404 (not stored yet) or a 5xx for the platform
        self._remember(stripe_changed=False)

    @contextmanager
    def _conditions(self, eventbridge_down: bool, late: LateReads | None) -> Iterator[None]:
        self.notifier.down = eventbridge_down
        if late is not None:
            self.stripe.as_of, self.payments.as_of = late.stripe, late.payments
        try:
            yield
        except NotifierDown:
            assert eventbridge_down
            raise
        finally:
            self.notifier.down = False
            self.stripe.as_of = self.payments.as_of = None

    # --- what came of it ----------------------------------------------------------------
    def _charges(self) -> list[str]:
        return [
            obj["id"]
            for account in self.store.dump()["accounts"]
            for obj in account["objects"]
            if obj["object"] == "charge"
        ]

    @staticmethod
    def _nth(charges: list[str], charge_id: str | None) -> int | None:
        # Charge ids differ between worlds; the n-th charge made is the same one.
        return None if charge_id is None else charges.index(charge_id)

    def final(self) -> tuple:
        p = self.payments.get(PAYMENT_ID)
        assert p is not None
        return (
            str(p.status),
            p.amount,
            p.currency,
            p.invoices,
            p.amount_received,
            p.amount_remaining,
            self._nth(self._charges(), p.charge_id),
            p.source_id is not None,
            p.payment_intent_id is not None,
            p.failure_code,
            p.failure_message,
        )

    def told(self) -> list[tuple]:
        charges = self._charges()
        return [
            (
                n["status"],
                n["amount_received"],
                n["amount_remaining"],
                self._nth(charges, n["charge_id"]),
                n["failure_code"],
                n["failure_message"],
            )
            for n in self.notifier.published
        ]


class LateReads:
    """The reads of a consumer that lost a race against the steps since `earliest`.

    Each read (of Stripe or of a payment) sees the world as it was at a moment drawn between
    its previous read and now, never going back. Its writes happen now: once it has written,
    or been refused a write, it reads the present.
    """

    def __init__(self, world: World, earliest: int, draw: Callable[..., Any]) -> None:
        self.world, self.draw = world, draw
        self.moment: int | None = earliest
        self.writes = world.payments.writes

    def _moment(self) -> int | None:
        if self.moment is None or self.world.payments.writes != self.writes:
            self.moment = None
            return None
        self.moment = self.draw(
            st.integers(self.moment, len(self.world.moments) - 1), label="read at moment"
        )
        return self.moment

    def stripe(self) -> dict[str, dict[str, Any]] | None:
        moment = self._moment()
        return None if moment is None else self.world.moments[moment][0]

    def payments(self) -> dict[str, Payment] | None:
        moment = self._moment()
        return None if moment is None else self.world.moments[moment][1]


_references: dict[tuple[str, bool], tuple[tuple, list[tuple]]] = {}


def in_order(journey: Journey, stored: bool) -> tuple[tuple, list[tuple]]:
    """Each event delivered once, right after it happened: the final state and what was told."""
    key = (journey.name, stored)
    if key not in _references:
        world = World(journey, stored)
        while True:
            while world.owed:
                world.deliver(min(world.owed))
            if not world.acts:
                break
            world.act()
        _references[key] = (world.final(), world.told())
    return _references[key]


def is_subsequence(part: list, whole: list) -> bool:
    remaining = iter(whole)
    return all(item in remaining for item in part)


@pytest.mark.parametrize("journey", JOURNEYS, ids=lambda j: j.name)
@settings(
    max_examples=EXAMPLES_PER_JOURNEY,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_schedule_ends_as_in_order_delivery(journey, data):
    schedules_run["count"] += 1
    stored = data.draw(st.booleans(), label="payment stored before the first event")
    world = World(journey, stored)
    sometimes = st.integers(0, 4).map(lambda n: n == 4)
    for _ in range(MAX_STEPS):
        moves = (["act"] if world.acts else []) + ["deliver", "sync"]
        if not world.acts and not world.owed:
            moves.append("stop")
        move = data.draw(st.sampled_from(moves))
        if move == "stop":
            break
        if move == "act":
            world.act()
        elif move == "deliver" and world.emitted:
            index = data.draw(st.integers(0, len(world.emitted) - 1), label="event")
            late = data.draw(sometimes, label="lost a race")
            world.deliver(
                index,
                data.draw(sometimes, label="EventBridge down"),
                LateReads(world, world.emitted_at[index], data.draw) if late else None,
            )
        elif move == "sync":
            late = data.draw(sometimes, label="lost a race")
            world.sync(
                data.draw(sometimes, label="EventBridge down"),
                LateReads(world, 0, data.draw) if late else None,
            )
    # Whatever is left happens in the end: Stripe retries until every event is handled.
    while world.acts or world.owed:
        if world.acts:
            world.act()
        for index in sorted(world.owed):
            world.deliver(index)

    final, told = in_order(journey, stored)
    assert world.final() == final
    assert world.payments.unpublished(PAYMENT_ID) == []
    ids = world.notifier.ids()
    assert len(ids) == len(set(ids)), f"a notification id was published twice: {ids}"
    states = world.told()
    assert len(states) == len(set(states)), f"a state was told twice: {states}"
    assert is_subsequence(states, told), f"{states} is not a part of {told}, in order"
    assert states[-1] == told[-1]


def test_in_order_delivery_tells_every_state_of_the_journeys():
    assert [s[0] for s in in_order(JOURNEYS[4], stored=True)[1]] == [
        "processing",
        "failed",
        "processing",
        "succeeded",
    ]
    assert [s[:3] for s in in_order(JOURNEYS[5], stored=True)[1]] == [
        ("partially_funded", 600, 900),
        ("partially_funded", 1100, 400),
        ("succeeded", 1500, 0),
    ]
    assert [s[0] for s in in_order(JOURNEYS[2], stored=False)[1]] == ["failed", "canceled"]
    assert [s[0] for s in in_order(JOURNEYS[6], stored=False)[1]] == ["succeeded"]
