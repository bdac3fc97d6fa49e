"""`python -m local.stripe_standin` runs the stand-in and logs one line per request."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_runs_in_the_foreground_and_logs_without_secrets():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.stripe_standin",
            "--port",
            "0",
            "--api-key",
            "sk_test_cli_secret_key",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        url = re.search(r"listening on (http://\S+)", first).group(1)
        request = urllib.request.Request(
            url + "/v1/payment_intents?expand[]=x",
            data=b"amount=100&currency=usd",
            headers={"Authorization": "Bearer sk_test_cli_secret_key"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["object"] == "payment_intent"
    finally:
        process.terminate()
        _, rest = process.communicate(timeout=10)

    log = first + rest
    assert "POST /v1/payment_intents 200" in log
    assert "sk_test_cli_secret_key" not in log and "expand" not in log and "amount" not in log
