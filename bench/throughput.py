"""Throughput end to end on the local stack: signed webhooks in, repaired payments out.

    python -m bench.throughput [--count 2000] [--concurrency 8] [--json]

Starts the local stack (local.stack) on free ports with a connected account, starts card
payments through the platform API and has the Stripe stand-in pay each one without delivering
its webhooks. Then it POSTs those recorded events itself, each signed with the Connect
endpoint's secret, to the service's webhook URL from `--concurrency` threads, as fast as the
webhook answers, and waits until every payment is `succeeded`. `--count` webhooks are sent
(rounded up to whole payments: a card payment's journey gives two, `charge.succeeded` and
`payment_intent.succeeded`).

Reported: webhooks accepted per second, webhook latency, the time from the first webhook to
every payment repaired, and per webhook the AWS calls by operation and the Stripe calls by
route, counted where moto and the stand-in serve them, with their own time spent serving
(the emulators' cost, shown apart). The sweep and event recovery, which would repair lost
webhooks' payments on their own, are scheduled a day apart: they never run during the
benchmark, and the webhooks do all the work measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import statistics
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import stripe
from botocore.config import Config

from local.counting import Served
from local.stack import DEMO_COMPANY, PROJECT_DIR, LocalStack, StackConfig, free_port

ARTIFACTS = PROJECT_DIR / "artifacts" / "bench-throughput"
# The benchmark's own AWS calls (waiting for the queue, reading the payments) carry this app
# id: moto tallies them apart, and they are left out of the figures.
APP_ID = "bench-throughput"
NEVER = 86_400.0  # seconds: the scheduled jobs' interval, longer than any run
AMOUNT = 1500


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class Sent:
    status: int | None
    seconds: float
    at: float  # when the answer came, on time.monotonic()


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _start_and_pay(stack: LocalStack, number: int) -> dict[str, Any]:
    """A card payment started by the platform, paid by its customer; no webhook delivered."""
    payment = _call(
        "POST",
        f"{stack.api_url}/payments",
        {
            "company_id": DEMO_COMPANY,
            "amount": AMOUNT,
            "currency": "usd",
            "invoices": [{"invoice_id": f"INV-{number}", "amount": AMOUNT}],
        },
        token=stack.config.platform_token,
    )
    pi = payment["payment_intent_id"]
    paid = _call(
        "POST",
        f"{stack.stripe.url}/_standin/payment_intents/{pi}/pay",
        {"method": "card", "deliver": False},
    )
    return {"payment_id": payment["payment_id"], "events": paid["events"]}


def _webhooks(stack: LocalStack, event_ids: list[str]) -> list[Webhook]:
    """What the stand-in would have POSTed for these events, endpoint by endpoint."""
    webhooks = []
    for event_id in event_ids:
        for endpoint_id in stack.stripe.store.endpoints_for(event_id):
            delivery = stack.stripe.store.delivery(event_id, endpoint_id)
            if delivery is not None:
                webhooks.append(Webhook(*delivery))
    return webhooks


def _send(webhook: Webhook) -> Sent:
    payload = webhook.body.decode()
    header = stripe.WebhookSignature.generate_signature_header(payload, webhook.secret)
    request = urllib.request.Request(
        webhook.url,
        data=webhook.body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status: int | None = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = None
    done = time.monotonic()
    return Sent(status, done - started, done)


def _in_queue(sqs: Any, queue_url: str) -> int:
    """Messages waiting or being handled: 0 once the consumer has handled every one."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    waiting = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    return sum(int(attributes.get(name, "0")) for name in waiting)


def _not_succeeded(dynamodb: Any, table: str, payment_ids: set[str]) -> set[str]:
    left = set(payment_ids)
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression="payment_id, #s",
        ExpressionAttributeNames={"#s": "status"},
    )
    for page in pages:
        for item in page["Items"]:
            if item.get("status", {}).get("S") == "succeeded":
                left.discard(item["payment_id"]["S"])
    return left


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)]


def _caller(name: str) -> tuple[str, str]:
    """("consumer", "dynamodb GetItem") from "app/consumer dynamodb GetItem"."""
    if name.startswith("app/"):
        caller, _, rest = name.partition(" ")
        return caller[len("app/") :], rest
    return "stack", name  # the stack runner's own clients


def _per_name(served: dict[str, Served], webhooks: int) -> list[dict[str, Any]]:
    rows = []
    for name, s in served.items():
        caller, call = _caller(name)
        rows.append(
            {
                "caller": caller,
                "name": call,
                "calls": s.count,
                "per_webhook": s.count / webhooks,
                "seconds": s.seconds,
                "ms_per_call": 1000 * s.seconds / s.count,
            }
        )
    order = {"api": 0, "consumer": 1}
    return sorted(rows, key=lambda r: (order.get(r["caller"], 2), r["caller"], -r["calls"]))


def run(count: int, concurrency: int, timeout: float = 900.0) -> dict[str, Any]:
    config = StackConfig(
        api_port=free_port(),
        stripe_port=free_port(),
        aws_port=free_port(),
        seed_demo_account=True,
        # As deployed (local.stack shortens them so that a poison message fails fast): a batch
        # slowed down by the load is not taken for a timed-out one and redelivered.
        consumer_timeout=30,
        visibility_timeout=180,
        log_dir=ARTIFACTS,
        schedule_interval=NEVER,
        sweep_interval=NEVER,
        count_requests=True,
    )
    for log in ARTIFACTS.glob("*.log"):
        log.unlink()  # the processes append: keep this run's logs only
    with LocalStack(config) as stack:
        assert stack.aws.tally is not None and stack.stripe.tally is not None
        own = Config(user_agent_appid=APP_ID)
        sqs, dynamodb = (
            stack.aws.client("sqs", config=own),
            stack.aws.client("dynamodb", config=own),
        )
        queue_url, table = stack.outputs["EventsQueueUrl"], stack.outputs["PaymentsTableName"]

        setup_started = time.monotonic()
        first = _start_and_pay(stack, 0)
        per_payment = len(_webhooks(stack, first["events"]))
        payments = max(1, math.ceil(count / per_payment))
        with ThreadPoolExecutor(concurrency) as pool:
            rest = list(pool.map(lambda n: _start_and_pay(stack, n), range(1, payments)))
        started = [first, *rest]
        payment_ids = {p["payment_id"] for p in started}
        webhooks = _webhooks(stack, [e for p in started for e in p["events"]])
        setup_seconds = time.monotonic() - setup_started

        stack.aws.tally.reset()
        stack.stripe.tally.reset()
        began = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            sent = list(pool.map(_send, webhooks))
        sending_seconds = max(s.at for s in sent) - began

        deadline = began + timeout
        # moto's answer costs more the longer the queue: ask seldom while it is long.
        while (left_in_queue := _in_queue(sqs, queue_url)) and time.monotonic() < deadline:
            time.sleep(1.0 if left_in_queue > 50 else 0.2)
        drained_at = time.monotonic()
        aws_served = stack.aws.tally.snapshot()
        stripe_served = stack.stripe.tally.snapshot()
        left = _not_succeeded(dynamodb, table, payment_ids)
        # A batch that failed comes back after the visibility timeout: wait for it too.
        while left and time.monotonic() < deadline:
            time.sleep(1.0)
            left = _not_succeeded(dynamodb, table, payment_ids)
        repaired_at = time.monotonic() if not left else None
        if repaired_at is not None and repaired_at - drained_at > 1.0:
            aws_served = stack.aws.tally.snapshot()
            stripe_served = stack.stripe.tally.snapshot()

    return _report(
        count=len(webhooks),
        concurrency=concurrency,
        payments=len(payment_ids),
        not_repaired=len(left),
        setup_seconds=setup_seconds,
        sent=sent,
        sending_seconds=sending_seconds,
        repaired_seconds=None if repaired_at is None else repaired_at - began,
        aws_served=aws_served,
        stripe_served=stripe_served,
    )


def _report(
    *,
    count: int,
    concurrency: int,
    payments: int,
    not_repaired: int,
    setup_seconds: float,
    sent: list[Sent],
    sending_seconds: float,
    repaired_seconds: float | None,
    aws_served: dict[str, Served],
    stripe_served: dict[str, Served],
) -> dict[str, Any]:
    accepted = [s for s in sent if s.status is not None and 200 <= s.status < 300]
    latencies = [1000 * s.seconds for s in sent]
    statuses = Counter(str(s.status) for s in sent)
    own = {name: s for name, s in aws_served.items() if _caller(name)[0] == APP_ID}
    aws = {name: s for name, s in aws_served.items() if name not in own}
    services: dict[str, float] = {}
    polls = 0.0
    for name, served in aws.items():
        service, _, operation = _caller(name)[1].partition(" ")
        if operation.endswith("(empty)"):
            polls += served.seconds  # a long poll that found nothing: waiting, not work
        else:
            services[service] = services.get(service, 0.0) + served.seconds
    consumer = [r for r in _per_name(aws, count) if r["caller"] == "consumer"]
    return {
        "webhooks": count,
        "concurrency": concurrency,
        "payments": payments,
        "payments_not_repaired": not_repaired,
        "setup_seconds": setup_seconds,
        "statuses": dict(statuses),
        "accepted": len(accepted),
        "sending_seconds": sending_seconds,
        "accepted_per_second": len(accepted) / sending_seconds if sending_seconds else 0.0,
        "latency_ms": {
            "median": statistics.median(latencies),
            "p95": _percentile(latencies, 0.95),
        },
        "repaired_seconds": repaired_seconds,
        "aws_calls": _per_name(aws, count),
        # Only the consumer calls Stripe once the payments are started.
        "stripe_calls": _per_name(stripe_served, count),
        "emulator_seconds": {
            **{f"moto {service}": seconds for service, seconds in sorted(services.items())},
            "stripe stand-in": sum(s.seconds for s in stripe_served.values()),
        },
        "empty_poll_seconds": polls,
        "consumer_calls_per_webhook": {
            "aws": sum(r["calls"] for r in consumer) / count,
            "stripe": sum(s.count for s in stripe_served.values()) / count,
        },
        "left_out": {name: {"calls": s.count, "seconds": s.seconds} for name, s in own.items()},
    }


def render(report: dict[str, Any]) -> str:
    r = report
    repaired = r["repaired_seconds"]
    lines = [
        f"throughput, end to end on the local stack: {r['webhooks']} signed webhooks "
        f"({r['payments']} card payments), {r['concurrency']} senders",
        f"  setup (payments started and paid, no webhook)  {r['setup_seconds']:8.1f} s",
        f"  webhooks accepted (2xx)                        {r['accepted']:8d} of {r['webhooks']}"
        + ("" if r["accepted"] == r["webhooks"] else f"  statuses {r['statuses']}"),
        f"  sending took                                   {r['sending_seconds']:8.1f} s",
        f"  accepted per second                            {r['accepted_per_second']:8.1f}",
        f"  webhook latency median / p95                   {r['latency_ms']['median']:8.1f}"
        f" / {r['latency_ms']['p95']:.1f} ms",
        "  first webhook to every payment succeeded       "
        + (
            f"{repaired:8.1f} s"
            if repaired is not None
            else f"not reached: {r['payments_not_repaired']} payments left"
        ),
        "",
        f"  the consumer's calls per webhook: {r['consumer_calls_per_webhook']['aws']:.2f} AWS, "
        f"{r['consumer_calls_per_webhook']['stripe']:.2f} Stripe",
        "",
        f"  {'AWS calls, as moto served them, by caller':<52}"
        f"{'calls':>8}{'/webhook':>10}{'ms/call':>9}",
    ]
    lines += [
        f"  {c['caller']:<16}{c['name']:<36}{c['calls']:>8}{c['per_webhook']:>10.2f}"
        f"{c['ms_per_call']:>9.1f}"
        for c in r["aws_calls"]
    ]
    lines += [
        "",
        f"  {'Stripe calls, as the stand-in served them':<52}"
        f"{'calls':>8}{'/webhook':>10}{'ms/call':>9}",
    ]
    lines += [
        f"  {'consumer':<16}{c['name']:<36}{c['calls']:>8}{c['per_webhook']:>10.2f}"
        f"{c['ms_per_call']:>9.1f}"
        for c in r["stripe_calls"]
    ]
    total = repaired or r["sending_seconds"]
    lines += [
        "",
        f"  {'the emulators own time serving them':<52}{'seconds':>8}"
        f"{'ms/webhook':>12}{'of the run':>12}",
    ]
    for name, seconds in r["emulator_seconds"].items():
        share = f"{100 * seconds / total:.0f} %" if total else ""
        lines.append(f"  {name:<52}{seconds:8.1f}{1000 * seconds / r['webhooks']:12.1f}{share:>12}")
    own_calls = sum(c["calls"] for c in r["left_out"].values())
    own_seconds = sum(c["seconds"] for c in r["left_out"].values())
    lines += [
        "  (wall time in the emulator, summed over requests served at once: the shares may add",
        "  up to more than 100 %. moto serves DynamoDB one request at a time. Left out: polls",
        f"  that found nothing ({r['empty_poll_seconds']:.0f} s of waiting) and the benchmark's "
        f"own {own_calls} calls, {own_seconds:.1f} s)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    # moto names each template resource it cannot create (the alarms): not this run's news.
    logging.getLogger("moto").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="webhooks to send")
    parser.add_argument("--concurrency", type=int, default=8, help="webhooks in flight at once")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds to wait for every payment to be repaired",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.count < 1 or args.concurrency < 1:
        parser.error("--count and --concurrency must be at least 1")
    report = run(args.count, args.concurrency, args.timeout)
    print(json.dumps(report, indent=2) if args.json else render(report))


if __name__ == "__main__":
    main()
