"""The running local stack, started as a user starts it (python -m local.stack), on free ports."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.stack import DEMO_ACCOUNT, DEMO_COMPANY, SERVICE_NAME, free_port
from tests.notification_schemas import check_event
from tests.waiting import wait_until

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT / "artifacts" / "e2e"
TOKEN = "local-platform-token"
VISIBILITY_TIMEOUT = 2
MAX_RECEIVE_COUNT = 3


@dataclass
class Stack:
    api: str
    stripe: str
    aws_endpoint: str
    log_dir: Path | None = None

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def queue_url(self, name: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]

    # --- the platform's side -------------------------------------------------------------
    def platform(self, method: str, path: str, body: Any = None, token: str | None = TOKEN):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return call(method, f"{self.api}{path}", body, headers)

    def start_payment(
        self, amount: int = 1500, currency: str = "usd", company: str = DEMO_COMPANY
    ) -> dict[str, Any]:
        status, body = self.platform(
            "POST",
            "/payments",
            {
                "company_id": company,
                "amount": amount,
                "currency": currency,
                "invoices": [{"invoice_id": "INV-1", "amount": amount}],
            },
        )
        assert status == 201, body
        return body

    def payment(self, payment_id: str) -> dict[str, Any]:
        status, body = self.platform("GET", f"/payments/{payment_id}")
        assert status == 200, body
        return body

    def wait_for_payment(self, payment_id: str, status: str, timeout: float = 30) -> dict:
        def reached() -> dict | None:
            code, body = self.platform("GET", f"/payments/{payment_id}")
            return body if code == 200 and body["status"] == status else None

        return wait_until(
            reached,
            timeout,
            f"payment {payment_id} to become {status}",
        )

    # --- the customer's side, played on the Stripe stand-in -----------------------------
    def standin(self, path: str, body: Any = None, method: str = "POST") -> dict[str, Any]:
        status, answer = call(method, f"{self.stripe}/_standin{path}", body)
        assert status == 200, answer
        return answer

    def wait_until_queue_drained(self, timeout: float = 30) -> None:
        sqs, url = self.client("sqs"), self.queue_url(f"{SERVICE_NAME}-events")

        def drained() -> bool:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            return (
                attributes["ApproximateNumberOfMessages"] == "0"
                and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
            )

        wait_until(drained, timeout, "the events queue to drain")


def call(method: str, url: str, body: Any = None, headers: dict | None = None):
    data = (
        body
        if isinstance(body, bytes)
        else (json.dumps(body).encode() if body is not None else None)
    )
    request = urllib.request.Request(
        url, data=data, method=method, headers=headers or {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    options = ["--seed-demo-account", "--visibility-timeout", str(VISIBILITY_TIMEOUT)]
    options += ["--max-receive-count", str(MAX_RECEIVE_COUNT)]
    # What these tests watch is the webhooks' and recovery's doing: the sweep, which would
    # repair their lost-webhook payments on its own, is proven on a stack of its own
    # (test_sweep.py).
    options += ["--sweep-interval", "3600"]
    with running_stack(ARTIFACTS, *options) as running:
        yield running


@contextmanager
def running_stack(artifacts: Path, *options: str) -> Iterator[Stack]:
    """`python -m local.stack` with these options on free ports; its logs in `artifacts`."""
    ports = {name: free_port() for name in ("api", "stripe", "aws")}
    artifacts.mkdir(parents=True, exist_ok=True)
    _platform_log.watch(artifacts)
    output = open(artifacts / "stack.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "local.stack",
            "--api-port",
            str(ports["api"]),
            "--stripe-port",
            str(ports["stripe"]),
            "--aws-port",
            str(ports["aws"]),
            *options,
            "--log-dir",
            str(artifacts),
        ],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()

    def follow() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.write(line)
            output.flush()
            if "The service is up." in line:
                ready.set()

    threading.Thread(target=follow, daemon=True).start()
    deadline = time.monotonic() + 120
    while not ready.wait(0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local stack did not start; see {artifacts / 'stack.log'}")
    try:
        yield Stack(
            f"http://127.0.0.1:{ports['api']}",
            f"http://127.0.0.1:{ports['stripe']}",
            f"http://127.0.0.1:{ports['aws']}",
            artifacts,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        output.close()


@pytest.fixture(scope="session")
def platform_inbox(stack: Stack) -> str:
    """An SQS queue subscribed to the service's notifications, as the platform would have."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName="platform-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = f"{SERVICE_NAME}-notifications"
    events.put_rule(
        Name="to-platform", EventBusName=bus, EventPattern=json.dumps({"source": ["stripe-bridge"]})
    )
    events.put_targets(Rule="to-platform", EventBusName=bus, Targets=[{"Id": "inbox", "Arn": arn}])
    return url


_received: dict[str, list[dict]] = {}


def notifications(stack: Stack, inbox: str, payment_id: str, settle: float = 1.0) -> list[dict]:
    """Every notification about the payment (or, for `account.*`, the account) received so far
    (the inbox is read dry)."""
    time.sleep(settle)
    sqs = stack.client("sqs")
    while messages := sqs.receive_message(
        QueueUrl=inbox, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", []):
        for message in messages:
            detail = check_event(json.loads(message["Body"]))
            about = detail.get("payment_id") or detail.get("account_id") or ""
            _received.setdefault(about, []).append(detail)
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
    return list(_received.get(payment_id, []))


class PlatformLog:
    """What the stack's platform queue received (its `platform.log`, one event a line), read
    on from where the last check stopped: every notification any test caused is checked."""

    def __init__(self) -> None:
        self._read: dict[Path, int] = {}
        self.checked = 0

    def watch(self, log_dir: Path) -> None:
        """A stack starts logging there: only what it receives from now on is its own."""
        path = log_dir / "platform.log"
        self._read[path] = path.stat().st_size if path.exists() else 0

    def check_all(self) -> None:
        for path in list(self._read):
            self.check(path.parent)

    def check(self, log_dir: Path) -> None:
        path = log_dir / "platform.log"
        if not path.exists():
            return
        with path.open() as log:
            log.seek(self._read.get(path, 0))
            text = log.read()
        complete = text[: text.rfind("\n") + 1]  # a line being written is read next time
        self._read[path] = self._read.get(path, 0) + len(complete.encode())
        for line in complete.splitlines():
            if line.startswith("{"):
                check_event(json.loads(line))
                self.checked += 1


_platform_log = PlatformLog()


@pytest.fixture(autouse=True)
def notifications_match_their_schemas(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the stack, every notification the platform received so far matches
    its schema (schemas/notifications/)."""
    yield
    if "stack" in request.fixturenames:
        running: Stack = request.getfixturevalue("stack")
        if running.log_dir is not None:
            time.sleep(0.5)  # what the test's last act published is on its way
            _platform_log.check(running.log_dir)


@pytest.fixture(scope="session", autouse=True)
def every_notification_is_checked() -> Iterator[None]:
    yield
    _platform_log.check_all()


__all__ = ["DEMO_ACCOUNT", "Stack", "call", "notifications", "wait_until"]
