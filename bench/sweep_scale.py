"""Scale check of the sweep: a table of 100,000 settled payments and 100 open ones, in moto.

    .venv/bin/python -m bench.sweep_scale [--settled 100000] [--open 100]

Prints how long filling the table took, then for one sweep run the DynamoDB items it read
(counted from every answer: items returned by Query, GetItem and their pages) and its Stripe
calls, and the same for a second run that finds nothing due. A sweep's cost follows the open
payments, not the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import sweep_jobs, wiring
from chalicelib.adapters.dynamodb import _payment_values, to_item
from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.domain.payment_requests import StartPayment
from chalicelib.domain.payments import InvoiceLine, Payment, PaymentStatus
from local.aws import LocalAws, deploy_stack, put_secrets
from local.stack import PROJECT_DIR
from local.stripe_standin import StripeStandin

SERVICE = "bench-sweep"
STRIPE_KEY = "sk_test_bench_sweep"
NOW = "2026-12-01T00:00:00.000+00:00"


class Reads:
    """Items DynamoDB returned and calls made, from botocore's after-call hook."""

    def __init__(self) -> None:
        self.items = 0
        self.calls: Counter[str] = Counter()

    def __call__(self, http_response: Any, parsed: dict, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        if "Items" in parsed:
            self.items += len(parsed["Items"])
        if parsed.get("Item"):
            self.items += 1


class CountingStripe:
    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def settled(account: str, index: int) -> dict[str, Any]:
    payment = Payment(
        payment_id=f"pay_{index:08d}{uuid.uuid4().hex[:8]}",
        company_id="co_bench",
        account_id=account,
        amount=1000,
        currency="usd",
        invoices=(InvoiceLine(f"INV-{index}", 1000),),
        created_at=NOW,
        status=PaymentStatus.SUCCEEDED,
        payment_intent_id=f"pi_{index:08d}",
        amount_received=1000,
        amount_remaining=0,
        charge_id=f"ch_{index:08d}",
        version=1,
        updated_at=NOW,
    )
    # As the store keeps a terminal payment: no next check, so not in the sweep's index.
    return to_item({**_payment_values(payment), "outbox": {}})


def fill(client: Any, table: str, account: str, count: int, workers: int = 4) -> float:
    started = time.monotonic()

    def batch(first: int) -> None:
        items = [
            {"PutRequest": {"Item": settled(account, i)}}
            for i in range(first, min(first + 25, count))
        ]
        pending: dict[str, Any] = {table: items}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(batch, range(0, count, 25)))
    return time.monotonic() - started


def without_moto_rollback_copies() -> None:
    """moto deep-copies every table a transaction touches (to roll it back on failure): at
    100,000 items that is seconds per write, a cost of the emulator that DynamoDB does not
    have. The bench's transactions never fail, so it keeps the table itself instead."""
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    class _Copy:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = _Copy  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settled", type=int, default=100_000)
    parser.add_argument("--open", dest="open_count", type=int, default=100)
    args = parser.parse_args(argv)
    without_moto_rollback_copies()

    with LocalAws(port=0) as aws, StripeStandin(port=0, api_key=STRIPE_KEY) as standin:
        outputs = deploy_stack(
            aws, PROJECT_DIR / "infra" / "template.yaml", SERVICE, {"ServiceName": SERVICE}
        )
        put_secrets(
            aws,
            f"/{SERVICE}",
            {
                "stripe-secret-key": STRIPE_KEY,
                "platform-api-token": "bench-token-0123456789",
                "metadata-signing-keys": "bench-metadata-key-0123456789abcdef",
                "webhook-signing-secrets": "whsec_bench_0123456789",
            },
        )
        os.environ.update(
            {
                **aws.env(),
                "SERVICE_NAME": SERVICE,
                "STAGE": "bench",
                "STRIPE_API_BASE": standin.url,
                # Due at once after a change, so that this run has the open ones to check.
                "SWEEP_BACKOFF_SECONDS": "0,300,900,3600,21600,86400",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        wiring.reset()
        account = "acct_1BenchSweep0001"
        standin_account(standin.url, account)
        wiring.account_store().put(ConnectedAccount(account, "co_bench", False, NOW))

        client = aws.client("dynamodb")
        took = fill(client, outputs["PaymentsTableName"], account, args.settled)
        print(
            f"filled {args.settled} settled payments in {took:.1f} s "
            f"({args.settled / took:.0f} items/s, batch_write_item, 4 threads)"
        )

        for i in range(args.open_count):
            started = (
                wiring.payments_service()
                .start(
                    StartPayment("co_bench", 1000 + i, "usd", (InvoiceLine(f"OPEN-{i}", 1000 + i),))
                )
                .payment
            )
            if i % 2 == 0:  # half of them paid, their webhooks lost
                standin_pay(standin.url, started.payment_intent_id)
        total = client.describe_table(TableName=outputs["PaymentsTableName"])["Table"]
        print(f"table: {total['ItemCount']} payments; {args.open_count} open, half paid at Stripe")

        reads = Reads()
        wiring.aws("dynamodb").meta.events.register("after-call.dynamodb", reads)
        stripe = CountingStripe(wiring.stripe_api())
        wiring.stripe_api = lambda: stripe  # type: ignore[assignment]
        for run in ("first run", "second run (nothing due)"):
            reads.items, reads.calls = 0, Counter()
            stripe.calls = Counter()
            started_at = time.monotonic()
            report = sweep_jobs.sweep_now()
            took = time.monotonic() - started_at
            print(f"\n{run}: {took:.1f} s, report {report}")
            print(f"  DynamoDB items read: {reads.items}")
            print(f"  DynamoDB calls: {dict(sorted(reads.calls.items()))}")
            print(
                f"  Stripe calls: {sum(stripe.calls.values())} {dict(sorted(stripe.calls.items()))}"
            )
    sys.stdout.flush()


def standin_account(url: str, account: str) -> None:
    _post(f"{url}/_standin/accounts", {"id": account})


def standin_pay(url: str, payment_intent_id: str | None) -> None:
    _post(
        f"{url}/_standin/payment_intents/{payment_intent_id}/pay",
        {"method": "card", "deliver": False},
    )


def _post(url: str, body: dict[str, Any]) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=30).read()


if __name__ == "__main__":
    main()
