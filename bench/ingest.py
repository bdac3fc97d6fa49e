"""Cost of one webhook ingest, in process: the app's handler as API Gateway invokes it.

    python -m bench.ingest [--requests 2000]

Measures a genuine, signed payment_intent.succeeded delivery through the whole handler
(routing, signature check, decision, logging, metrics), once with the SQS call to the local
emulator (moto on loopback) and once with a queue that does nothing, and prints the median
and 99th percentile of each.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import time
from pathlib import Path

import stripe

from chalicelib import wiring
from local.apigw import invoke
from local.aws import LocalAws, deploy_stack, put_secrets

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_bench_0123456789abcdef0123"


class _NullQueue:
    def send(self, envelope: object, body: str) -> None:
        return None


def _event(number: int) -> str:
    return json.dumps(
        {
            "id": f"evt_bench{number:08d}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "livemode": False,
            "type": "payment_intent.succeeded",
            "account": "acct_1Bench",
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {
                "object": {
                    "id": f"pi_bench{number:08d}",
                    "object": "payment_intent",
                    "amount": 1500,
                    "amount_received": 1500,
                    "currency": "usd",
                    "status": "succeeded",
                    "metadata": {"owner": "stripe-bridge"},
                }
            },
        }
    )


def _measure(requests: int) -> list[float]:
    timings = []
    for number in range(requests):
        body = _event(number)
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
        started = time.perf_counter()
        answer = invoke("POST", "/webhooks/stripe", body, {"Stripe-Signature": header})
        timings.append((time.perf_counter() - started) * 1000)
        if answer.status != 200:
            raise SystemExit(f"unexpected answer {answer.status}: {answer.body}")
    return timings


def _summary(label: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"{label:<28} median {statistics.median(ordered):6.2f} ms   p99 {p99:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with LocalAws(port=0) as aws:
        deploy_stack(aws, ROOT / "infra" / "template.yaml", "bench", {"ServiceName": "bench"})
        put_secrets(aws, "/bench", {"webhook-signing-secrets": SECRET})
        os.environ.update(
            {**aws.env(), "SERVICE_NAME": "bench", "STAGE": "bench", "LIVEMODE": "false"}
        )
        wiring.reset()
        results = []
        # Logs and metrics are written as in Lambda, to a buffer instead of the terminal.
        with contextlib.redirect_stdout(io.StringIO()):
            _measure(50)  # warm: clients built, secrets cached, as in a warm Lambda
            results.append(_summary("with SQS (moto, loopback)", _measure(args.requests)))
            wiring.event_queue.cache_clear()
            original = wiring.event_queue
            wiring.event_queue = lambda: _NullQueue()  # type: ignore[assignment]
            try:
                results.append(_summary("without the SQS call", _measure(args.requests)))
            finally:
                wiring.event_queue = original  # type: ignore[assignment]
    print(f"webhook ingest, {args.requests} requests each, in process:")
    print("\n".join(results))


if __name__ == "__main__":
    main()
