"""A local stand-in for EventBridge schedules: invokes the app's `@app.schedule` handlers.

Run as: python -m local.scheduler --job NAME[=SECONDS] [--job ...] [--interval SECONDS]
with the stage's environment already set (local.stack does that). Each job is the name of a
scheduled handler in app.py, invoked with a scheduled event, every SECONDS (or --interval).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.lifetime import run_until_signalled
from local.sqs_trigger import LambdaContext

logger = logging.getLogger("local.scheduler")

Handler = Callable[[dict, Any], Any]


def scheduled_event(rule: str, region: str = "us-east-1", account: str = "123456789012") -> dict:
    """The event EventBridge hands a scheduled Lambda."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{rule}"],
        "detail": {},
    }


class Scheduler:
    """Runs each registered handler every `interval` seconds, one run at a time per job.

    A failing run is logged and the job carries on, as a schedule keeps firing after a
    failed invocation.
    """

    def __init__(self, timeout_seconds: float = 300) -> None:
        self.timeout_seconds = timeout_seconds
        self._jobs: list[tuple[str, Handler, float]] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def register(self, name: str, handler: Handler, interval: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self._jobs.append((name, handler, interval))

    def run_once(self, name: str, handler: Handler) -> bool:
        context = LambdaContext(name, "us-east-1", "123456789012", self.timeout_seconds, 256)
        try:
            handler(scheduled_event(name), context)
        except Exception:
            logger.exception("%s: scheduled run failed", name)
            return False
        return True

    def start(self) -> None:
        self._stopping.clear()
        for name, handler, interval in self._jobs:
            thread = threading.Thread(
                target=self._loop,
                args=(name, handler, interval),
                name=f"schedule-{name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self, name: str, handler: Handler, interval: float) -> None:
        while not self._stopping.wait(interval):
            self.run_once(name, handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--job", action="append", required=True, help="NAME or NAME=SECONDS")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between runs")
    parser.add_argument("--timeout", type=float, default=300, help="the Lambda timeout, seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")

    import app  # the same handlers Lambda would run

    scheduler = Scheduler(args.timeout)
    for job in args.job:
        name, _, seconds = job.partition("=")
        scheduler.register(name, getattr(app, name), float(seconds) if seconds else args.interval)
    run_until_signalled(scheduler.start, scheduler.stop)


if __name__ == "__main__":
    main()
