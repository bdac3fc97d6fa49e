"""Runs the queue consumer locally: Lambda's SQS trigger stood in for by local.sqs_trigger.

Run as: python -m local.worker --queue-url URL [--batch-size 10] [--timeout 30]
[--handler consume_events] (the name of an `@app.on_sqs_message` handler in app.py)
with the stage's environment already set (local.stack does that).
"""

from __future__ import annotations

import argparse
import logging
import sys

import boto3

from chalicelib.settings import Settings
from local.lifetime import run_until_signalled
from local.sqs_trigger import SqsTrigger


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--timeout", type=int, default=30, help="the Lambda timeout, seconds")
    parser.add_argument("--handler", default="consume_events", help="the handler in app.py")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")

    import app  # the same handler Lambda would run

    trigger = SqsTrigger(
        boto3.client("sqs"),
        args.queue_url,
        getattr(app, args.handler),
        batch_size=args.batch_size,
        function_name=args.handler,
        timeout_seconds=args.timeout,
        # `chalice deploy` cannot turn partial batch responses on: mimic that mapping, unless
        # the stage says its mappings have them (the SnapStart merge template's setting).
        report_batch_item_failures=Settings.from_env().reports_batch_item_failures,
    )
    run_until_signalled(trigger.start, trigger.stop)


if __name__ == "__main__":
    main()
