"""Whatever a customer does and however Stripe delivers it, the payment ends as Stripe says.

Hypothesis generates each journey from the customer's acts — paying by card (declined or not),
3-D Secure (passed, failed or abandoned), a bank debit that settles or fails, a bank transfer in
any number of parts, a legacy ACH credit transfer, another way to pay after a failure, giving
up, coming back, canceling — and interleaves them with deliveries of any event emitted so far
(in any order, duplicated, or lost for good), the platform's syncs, sweeps, consumers that lose
a race (they read earlier and write later) and EventBridge outages. At the end, after a final
sync, the payment says what Stripe's objects say, and the platform was told each change once,
under strictly increasing versions, never the same state twice in a row.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.errors import NotFound
from chalicelib.domain.metadata import SigningKeys, payment_metadata
from chalicelib.domain.payment_requests import StartPayment
from chalicelib.domain.payments import InvoiceLine, Payment, observe_payment_intent
from chalicelib.domain.webhooks import Verdict, decide, envelope_of
from chalicelib.services.payments import PaymentsService
from chalicelib.services.repair import QueuedEvent, Repairer
from chalicelib.services.transitions import record
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
EXAMPLES = 1200
MAX_STEPS = 45

schedules_run = {"count": 0}


# --- the customer's acts, each possible only in some states of Stripe's objects --------------


@dataclass(frozen=True)
class Act:
    name: str
    possible: Callable[[World, dict[str, Any]], bool]  # given the PaymentIntent as it is
    do: Callable[[World, st.DataObject], Any]


def _instructions(pi: dict[str, Any]) -> dict[str, Any] | None:
    return (pi["next_action"] or {}).get("display_bank_transfer_instructions")


def payable(world: World, pi: dict[str, Any]) -> bool:
    """Stripe takes another way to pay as long as no money has moved."""
    instructions = _instructions(pi)
    untouched = pi["amount_received"] == 0 and (
        instructions is None or instructions["amount_remaining"] == pi["amount"]
    )
    return pi["status"] in ("requires_payment_method", "requires_confirmation") or (
        pi["status"] == "requires_action" and untouched
    )


def processing(world: World, pi: dict[str, Any]) -> bool:
    return pi["status"] == "processing"


def awaiting_transfer(world: World, pi: dict[str, Any]) -> bool:
    return pi["status"] == "requires_action" and _instructions(pi) is not None


def cancelable(world: World, pi: dict[str, Any]) -> bool:
    return pi["status"] not in ("succeeded", "canceled")


def source_pending(world: World, pi: dict[str, Any]) -> bool:
    return world.source_id is not None and world.now()[world.source_id]["status"] == "pending"


def pays(method: str, outcome: str | None = None) -> Callable[[World, st.DataObject], Any]:
    def do(world: World, data: st.DataObject) -> Any:
        return world.store.pay(world.payment_intent_id, method=method, outcome=outcome)

    return do


def bank_debit(world: World, data: st.DataObject) -> Any:
    method = "sepa_debit" if world.currency == "eur" else "us_bank_account"
    return world.store.pay(world.payment_intent_id, method=method)


def debit_fails(world: World, data: st.DataObject) -> Any:
    code = data.draw(st.sampled_from(["insufficient_funds", "account_closed"]), label="why")
    return world.store.fail_debit(world.payment_intent_id, code=code)


def transfer_part(world: World, data: st.DataObject) -> Any:
    instructions = _instructions(world.now()[world.payment_intent_id])
    assert instructions is not None
    remaining = instructions["amount_remaining"]
    amount = data.draw(st.integers(1, remaining), label="part of the transfer")
    return world.store.fund(
        world.payment_intent_id, amount=amount, received_grows=world.received_grows
    )


def cancel(world: World, data: st.DataObject) -> Any:
    return world.store.cancel_payment_intent(ACCOUNT, world.payment_intent_id, reason="abandoned")


def legacy_transfer(world: World, data: st.DataObject) -> Any:
    return world.store.set_source_status(world.source_id, "chargeable")


ACTS = [
    Act("pays by card", payable, pays("card")),
    Act("card declined", payable, pays("card", "declined")),
    Act("passes 3-D Secure", payable, pays("card_3ds")),
    Act("fails 3-D Secure", payable, pays("card_3ds", "declined")),
    Act("leaves 3-D Secure unfinished", payable, pays("card_3ds", "abandoned")),
    Act("pays by bank debit", payable, bank_debit),
    Act(
        "the debit settles",
        processing,
        lambda world, data: world.store.settle(world.payment_intent_id),
    ),
    Act("the debit fails", processing, debit_fails),
    Act("chooses a bank transfer", payable, pays("customer_balance")),
    Act("a transfer arrives (a part or all)", awaiting_transfer, transfer_part),
    Act("cancels", cancelable, cancel),
    Act("sends an ACH credit transfer to the legacy Source", source_pending, legacy_transfer),
]


# --- one payment on a fresh Stripe, and the service around it --------------------------------


class World:
    def __init__(self, amount: int, currency: str, stored: bool, source: bool, grows: bool):
        ticks = itertools.count()
        self.amount, self.currency, self.received_grows = amount, currency, grows
        self.store = Store(client_id="ca_test")
        self.store.connect_account(account_id=ACCOUNT)
        self.stripe = StoreStripe(self.store)
        self.payments = MemoryPayments()
        self.notifier = RecordingNotifier()
        accounts = MemoryAccounts(ConnectedAccount(ACCOUNT, COMPANY, False, "2026-01-01"))

        def clock() -> str:
            tick = next(ticks)
            return f"2026-11-29T12:{tick // 60:02d}:{tick % 60:02d}.000+00:00"

        self.clock = clock
        self.repairer = Repairer(
            self.payments, accounts, self.stripe, self.notifier, clock, MemoryPaymentMethods(), KEYS
        )
        self.service = PaymentsService(
            self.payments, accounts, self.stripe, self.notifier, clock, KEYS, lambda: PAYMENT_ID
        )
        self.emitted: list[dict[str, Any]] = []
        self.emitted_at: list[int] = []  # the moment each event was emitted
        self.owed: set[int] = set()  # events Stripe still retries until handled
        self.lost: set[int] = set()  # events Stripe never delivered
        # Stripe's objects and the stored payments after each step, for late readers.
        self.moments: list[tuple[dict[str, dict[str, Any]], dict[str, Payment]]] = []
        self._seen: set[str] = set()
        self.source_id: str | None = None
        self.acts_done: list[str] = []
        self._begin(stored, source)
        self._remember(stripe_changed=True)
        self.collect()

    def now(self) -> dict[str, dict[str, Any]]:
        """Stripe's objects as they are now, by id."""
        return self.moments[-1][0]

    def _begin(self, stored: bool, source: bool) -> None:
        invoices = (InvoiceLine("INV-1", self.amount),)
        if stored:
            payment = self.service.start(
                StartPayment(COMPANY, self.amount, self.currency, invoices)
            ).payment
            assert payment.payment_intent_id is not None
            self.payment_intent_id = payment.payment_intent_id
        else:
            # The platform's request never got its answer stored: only Stripe knows the payment.
            payment = Payment(
                PAYMENT_ID,
                COMPANY,
                ACCOUNT,
                self.amount,
                self.currency,
                invoices,
                "2026-11-29T11:59:00.000+00:00",
            )
            self.payment_intent_id = self.store.create_payment_intent(
                ACCOUNT,
                amount=self.amount,
                currency=self.currency,
                metadata=payment_metadata(payment, KEYS),
                payment_method_types=None,
                customer=None,
                description=None,
            )["id"]
        if source:
            self.source_id = self.store.create_source(
                ACCOUNT,
                source_type="ach_credit_transfer",
                amount=self.amount,
                currency=self.currency,
                metadata=payment_metadata(payment, KEYS),
                customer=None,
                email=None,
            )["id"]

    # --- what happens -------------------------------------------------------------------
    def _remember(self, stripe_changed: bool) -> None:
        if stripe_changed or not self.moments:
            stripe_now = {obj["id"]: obj for obj in self._objects()}
        else:
            stripe_now = self.moments[-1][0]
        self.moments.append((stripe_now, dict(self.payments.items)))

    def _objects(self) -> list[dict[str, Any]]:
        return next(
            a["objects"] for a in self.store.dump()["accounts"] if a["account"]["id"] == ACCOUNT
        )

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

    def possible_acts(self) -> list[Act]:
        pi = self.now()[self.payment_intent_id]
        return [act for act in ACTS if act.possible(self, pi)]

    def act(self, act: Act, data: st.DataObject) -> None:
        act.do(self, data)
        self.acts_done.append(act.name)
        self._remember(stripe_changed=True)
        self.collect()

    def lose(self, index: int) -> None:
        """Stripe gave up on the event (or the endpoint never got it)."""
        self.owed.discard(index)
        self.lost.add(index)

    def deliver(
        self, index: int, eventbridge_down: bool = False, late: LateReads | None = None
    ) -> None:
        """Handle the event, as a consumer that reads now, or (late) one that lost a race."""
        writes = self._stripe_writes()
        try:
            with self._conditions(eventbridge_down, late):
                self.repairer.handle(QueuedEvent.from_body(json.dumps(self.emitted[index])))
        except NotifierDown:
            pass  # the message goes back to the queue
        else:
            if late is None:  # a racing copy does not stand for the fresh one
                self.owed.discard(index)
        stripe_changed = self._stripe_writes() != writes
        self._remember(stripe_changed)
        if stripe_changed:
            self.collect()  # the service's own call to Stripe made events too

    def _stripe_writes(self) -> int:
        # The service's own calls that change Stripe: charging a Source, closing a PaymentIntent.
        return sum(self.stripe.calls.count(c) for c in ("create_charge", "cancel_payment_intent"))

    def sync(self, eventbridge_down: bool = False, late: LateReads | None = None) -> None:
        """The customer came back to the platform, which asks the service to look again."""
        try:
            with self._conditions(eventbridge_down, late):
                self.service.sync(PAYMENT_ID)
        except (NotFound, NotifierDown):
            pass  # a 404 (not stored yet) or a 5xx for the platform
        self._remember(stripe_changed=False)

    def sweep(self, eventbridge_down: bool = False, late: LateReads | None = None) -> None:
        """A sweep of open payments: read the payment, then Stripe, through the same record()."""
        try:
            with self._conditions(eventbridge_down, late):
                payment = self.payments.get(PAYMENT_ID)
                if payment is not None and payment.payment_intent_id is not None:
                    account_id, intent_id = payment.account_id, payment.payment_intent_id
                    record(
                        self.payments,
                        self.notifier,
                        payment,
                        lambda: observe_payment_intent(
                            self.stripe.retrieve_payment_intent(account_id, intent_id)
                        ),
                        self.clock(),
                    )
        except NotifierDown:
            pass
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
    def stripe_says(self) -> tuple:
        """The payment as Stripe's objects describe it, read straight from them."""
        objects = {obj["id"]: obj for obj in self._objects()}
        by_source = [
            obj
            for obj in objects.values()
            if obj["object"] == "charge"
            and obj["payment_intent"] is None
            and obj["status"] == "succeeded"
        ]
        if by_source:
            (charge,) = by_source  # one settlement per payment
            return ("succeeded", charge["amount"], 0, charge["id"], None, None, None)
        pi = objects[self.payment_intent_id]
        received, charge_id = pi["amount_received"], pi["latest_charge"]
        instructions = (pi["next_action"] or {}).get("display_bank_transfer_instructions")
        error = pi["last_payment_error"]
        if pi["status"] == "succeeded":
            return ("succeeded", received, 0, charge_id, None, None, None)
        if pi["status"] in ("processing", "canceled"):
            return (pi["status"], received, None, charge_id, None, None, None)
        if instructions is not None:
            owed = min(instructions["amount_remaining"], pi["amount"] - received)
            if owed < pi["amount"]:
                return ("partially_funded", received, owed, charge_id, None, None, None)
        if pi["status"] == "requires_payment_method" and error:
            code = error["decline_code"] or error["code"]
            failed_with = error["payment_method"]["id"]
            return ("failed", received, None, charge_id, code, error["message"], failed_with)
        return ("pending", received, None, charge_id, None, None, None)

    def compared(self, facts: tuple) -> tuple:
        # An open or canceled payment's Charge, if any, is a failed attempt's leftover: Stripe's
        # latest_charge names it whether or not the service saw that attempt.
        meaningful = facts[0] in ("succeeded", "processing", "failed")
        return facts if meaningful else (*facts[:3], None, *facts[4:])

    def final(self) -> tuple:
        p = self.payments.get(PAYMENT_ID)
        assert p is not None, "the payment was never stored"
        failed_with = p.payment_method_id if str(p.status) == "failed" else None
        return (
            str(p.status),
            p.amount_received,
            p.amount_remaining,
            p.charge_id,
            p.failure_code,
            p.failure_message,
            failed_with,
        )


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


def facts(notification: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in notification.items() if k not in ("notification_id", "version")} | {
        "occurred_at": None
    }


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_journey_in_any_schedule_ends_as_stripe_says(data):
    schedules_run["count"] += 1
    world = World(
        amount=data.draw(st.sampled_from([1000, 1500]), label="amount"),
        currency=data.draw(st.sampled_from(["usd", "eur"]), label="currency"),
        stored=(stored := data.draw(st.booleans(), label="payment stored before any event")),
        # A payment rebuilt from its Source alone would not know its PaymentIntent.
        source=stored and data.draw(st.booleans(), label="a legacy Source too"),
        grows=data.draw(st.booleans(), label="partial transfers raise amount_received"),
    )
    sometimes = st.integers(0, 4).map(lambda n: n == 4)
    for _ in range(MAX_STEPS):
        acts = world.possible_acts()
        moves = ["deliver", "sync", "sweep", "stop"] + (["act", "act"] if acts else [])
        move = data.draw(st.sampled_from(moves), label="next")
        if move == "stop":
            break
        if move == "act":
            world.act(data.draw(st.sampled_from(acts), label="the customer"), data)
        elif move == "deliver" and world.emitted:
            index = data.draw(st.integers(0, len(world.emitted) - 1), label="event")
            if data.draw(sometimes, label="lost"):
                world.lose(index)
                continue
            late = data.draw(sometimes, label="lost a race")
            world.deliver(
                index,
                data.draw(sometimes, label="EventBridge down"),
                LateReads(world, world.emitted_at[index], data.draw) if late else None,
            )
        elif move in ("sync", "sweep"):
            late = data.draw(sometimes, label="lost a race")
            getattr(world, move)(
                data.draw(sometimes, label="EventBridge down"),
                LateReads(world, 0, data.draw) if late else None,
            )
    # Stripe retries what it still owes until it is handled; the lost events stay lost.
    while world.owed:
        for index in sorted(world.owed):
            world.deliver(index)
    if world.payments.get(PAYMENT_ID) is None:
        # Never stored, and every event lost: the missed-event recovery lists them again.
        for index in sorted(world.lost):
            world.deliver(index)
    world.sync()

    if world.payments.get(PAYMENT_ID) is None:
        # Never stored and Stripe told nothing: there is nothing the service could know of.
        assert not world.emitted and world.stripe_says()[0] == "pending"
        return
    assert world.compared(world.final()) == world.compared(world.stripe_says()), world.acts_done
    assert world.payments.unpublished(PAYMENT_ID) == []
    told = world.notifier.published
    versions = [n["version"] for n in told]
    assert versions == sorted(set(versions)), f"versions not strictly increasing: {versions}"
    assert [n["notification_id"] for n in told] == [f"{PAYMENT_ID}.v{v}" for v in versions]
    for before, after in itertools.pairwise(told):
        assert facts(before) != facts(after), f"told twice in a row: {after}"
    assert (told[-1]["status"] if told else "pending") == world.final()[0]


def example_world(*acts: str, grows: bool = True, currency: str = "usd") -> World:
    """A journey played in order, each event handled right after it happened."""
    world = World(1000, currency, stored=True, source=False, grows=grows)
    parts = iter([400, 100])
    for name in acts:
        act = next(a for a in ACTS if a.name == name)
        assert act in world.possible_acts(), f"{name} after {world.acts_done}"
        world.act(act, _FixedDraws(parts))
        for index in sorted(world.owed):
            world.deliver(index)
    return world


class _FixedDraws:
    """Draws for acts played by hand: the next transfer part, the first failure reason."""

    def __init__(self, parts: Iterator[int]) -> None:
        self.parts = parts

    def draw(self, strategy: Any, label: str | None = None) -> Any:
        return next(self.parts) if label == "part of the transfer" else "insufficient_funds"


def told(world: World) -> list[tuple]:
    return [
        (n["status"], n["amount_received"], n["amount_remaining"], n["failure_code"])
        for n in world.notifier.published
    ]


def test_a_declined_card_then_a_bank_transfer_in_parts_is_told_as_it_arrives():
    world = example_world(
        "card declined",
        "chooses a bank transfer",
        "a transfer arrives (a part or all)",
        "a transfer arrives (a part or all)",
    )
    assert told(world) == [
        ("failed", 0, None, "generic_decline"),
        ("partially_funded", 400, 600, None),
        ("partially_funded", 500, 500, None),
    ]


def test_partial_transfers_count_when_only_what_is_owed_moves():
    world = example_world(
        "chooses a bank transfer",
        "a transfer arrives (a part or all)",
        "a transfer arrives (a part or all)",
        grows=False,
    )
    assert told(world) == [("partially_funded", 0, 600, None), ("partially_funded", 0, 500, None)]


def test_three_d_secure_failed_twice_is_told_twice_then_paid():
    world = example_world("fails 3-D Secure", "fails 3-D Secure", "pays by bank debit")
    failure = "payment_intent_authentication_failure"
    assert told(world) == [
        ("failed", 0, None, failure),
        ("failed", 0, None, failure),
        ("processing", 0, None, None),
    ]
    first, second = (n["payment_method_id"] for n in world.notifier.published[:2])
    assert first != second
