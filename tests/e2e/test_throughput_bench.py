"""`python -m bench.throughput` with a handful of webhooks: what a user reads in its report
holds (every payment repaired, calls per webhook counted where they were served, the
emulators' own time shown). Its figures are not checked: timings are not tests."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.throughput import render
from tests.e2e.conftest import PROJECT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def report() -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.throughput", "--count", "5", "--concurrency", "3", "--json"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def calls(rows: list[dict], caller: str, name: str) -> int:
    return sum(r["calls"] for r in rows if r["caller"] == caller and r["name"] == name)


def test_every_webhook_is_accepted_and_every_payment_repaired(report: dict) -> None:
    # Five webhooks, rounded up to whole card payments of two webhooks each.
    assert report["webhooks"] == 6 and report["payments"] == 3
    assert report["accepted"] == report["webhooks"]
    assert report["payments_not_repaired"] == 0
    assert report["repaired_seconds"] is not None
    assert report["accepted_per_second"] > 0
    assert 0 < report["latency_ms"]["median"] <= report["latency_ms"]["p95"]


def test_calls_are_counted_per_webhook_where_they_were_served(report: dict) -> None:
    aws, stripe_calls = report["aws_calls"], report["stripe_calls"]
    webhooks, payments = report["webhooks"], report["payments"]
    # The webhook queues each event it accepts, once.
    assert calls(aws, "api", "sqs SendMessage") == webhooks
    # Each payment changed at least once (its conditional write, with its history), each
    # change told to the platform; the benchmark's own reads are not among them.
    writes = calls(aws, "consumer", "dynamodb TransactWriteItems")
    assert payments <= writes <= webhooks
    assert calls(aws, "consumer", "events PutEvents") >= payments
    assert not any(r["caller"] == "bench-throughput" for r in aws)
    assert report["left_out"]
    # Stripe is read, never written to, and at most once per event that changed a payment.
    assert all(r["name"].startswith("GET ") for r in stripe_calls)
    gets = sum(r["calls"] for r in stripe_calls)
    assert 1 <= gets <= writes
    for row in aws + stripe_calls:
        assert row["per_webhook"] == pytest.approx(row["calls"] / webhooks)
    per_webhook = report["consumer_calls_per_webhook"]
    assert per_webhook["stripe"] == pytest.approx(gets / webhooks)
    assert per_webhook["aws"] >= (writes + calls(aws, "consumer", "sqs DeleteMessage")) / webhooks


def test_the_emulators_own_time_is_shown_apart(report: dict) -> None:
    emulators = report["emulator_seconds"]
    for emulator in ("moto dynamodb", "moto sqs", "moto events", "stripe stand-in"):
        assert emulators[emulator] > 0
    table = render(report)
    assert "the emulators own time" in table
    assert "moto dynamodb" in table and "GET /v1/payment_intents/{id}" in table
