"""`./dev up` as a developer runs it: the whole stack in the foreground, what the platform is
told shown as it arrives, the platform's queue followed with `ops notifications tail`, and
Ctrl-C stopping every process cleanly."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.stack import DEMO_COMPANY, free_port
from tests.e2e.conftest import Stack
from tests.notification_schemas import check_event
from tests.waiting import wait_until

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT / "artifacts" / "local-stack"


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies of the group leader (waited for below) still count: look for live members.
    ps = subprocess.run(["ps", "-o", "stat=", "-g", str(pgid)], capture_output=True, text=True)
    return any(not state.startswith("Z") for state in ps.stdout.split())


@pytest.fixture
def foreground_stack():
    """`python -m local.stack` in a terminal of its own: Ctrl-C reaches its whole group."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out, err = ARTIFACTS / "stdout.log", ARTIFACTS / "stderr.log"
    ports = {name: free_port() for name in ("api", "stripe", "aws")}
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "local.stack", "--seed-demo-account"]
            + [f"--{name}-port={port}" for name, port in ports.items()],
            cwd=PROJECT,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: "The service is up." in read(out) or process.poll() is not None,
            120,
            "the stack to start",
        )
        assert process.poll() is None, read(err)[-3000:]
        yield (
            process,
            Stack(*(f"http://127.0.0.1:{ports[n]}" for n in ("api", "stripe", "aws"))),
            out,
            err,
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_stack_shows_what_the_platform_is_told_and_ctrl_c_stops_it_cleanly(foreground_stack):
    process, stack, out, err = foreground_stack
    payment = stack.start_payment(1500, company=DEMO_COMPANY)
    stack.standin(f"/payment_intents/{payment['payment_intent_id']}/pay", {"method": "card_3ds"})
    stack.wait_for_payment(payment["payment_id"], "succeeded")
    told = wait_until(
        lambda: [
            line
            for line in read(out).splitlines()
            if "payment.updated" in line and payment["payment_id"] in line
        ],
        30,
        "the notification to show in the stack's output",
    )
    assert "succeeded" in told[-1]

    # The platform's own queue still holds it, for `ops notifications tail`.
    tail = subprocess.run(
        [sys.executable, "-m", "ops", "notifications", "tail", "--stage", "local", "--json"]
        + ["--count", "1"],
        cwd=PROJECT,
        env={**os.environ, "AWS_ENDPOINT_URL": stack.aws_endpoint},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tail.returncode == 0, tail.stderr
    events = [json.loads(line) for line in tail.stdout.splitlines()]
    details = [check_event(event) for event in events]
    assert [(d["payment_id"], d["status"]) for d in details][-1] == (
        payment["payment_id"],
        "succeeded",
    )

    # A browser keeps its connection to the API open after a page: that must not hold it up.
    browser = http.client.HTTPConnection(stack.api.removeprefix("http://"), timeout=10)
    browser.request("GET", "/payments")
    browser.getresponse().read()
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
    assert process.wait(timeout=30) == 0
    stopped_in = time.monotonic() - started
    wait_until(lambda: not group_alive(process.pid), 10, "every process of the stack to end")
    assert "Traceback" not in read(err), read(err)[-3000:]
    assert "Traceback" not in read(out)
    assert stopped_in < 15
    browser.close()


def test_notifications_tail_stops_quietly_on_ctrl_c(aws):
    service = "tailtest"
    queue = aws.client("sqs").create_queue(QueueName=f"{service}-platform-inbox")["QueueUrl"]
    tail = subprocess.Popen(
        [sys.executable, "-m", "ops", "notifications", "tail", "--stage", "local"],
        cwd=PROJECT,
        env={**os.environ, **aws.env(), "SERVICE_NAME": service},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    aws.client("sqs").send_message(QueueUrl=queue, MessageBody="not an event")
    time.sleep(3)
    tail.send_signal(signal.SIGINT)
    stdout, stderr = tail.communicate(timeout=30)
    assert tail.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "(not an EventBridge event) not an event" in stdout
    assert stderr.splitlines()[-1] == "1 notification(s) shown"


def test_notifications_tail_never_drains_a_deployed_platforms_queue_by_mistake(aws):
    result = subprocess.run(
        [sys.executable, "-m", "ops", "notifications", "tail", "--stage", "dev"],
        cwd=PROJECT,
        env={**os.environ, **aws.env(), "PUBLIC_BASE_URL": "https://bridge.example.com/api"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "give --queue" in result.stderr and "--consume" in result.stderr
