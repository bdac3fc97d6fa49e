"""The operator CLI as an operator runs it: a subprocess, against moto and the Stripe stand-in.

Every test gets a stage of its own (its own ServiceName, so its own stack, secrets and queues)
and a fresh stand-in: nothing one test does is seen by another, in any order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.aws import LocalAws, deploy_stack, put_secrets
from local.stripe_standin import StripeStandin

ROOT = Path(__file__).resolve().parents[2]
STRIPE_KEY = "sk_test_ops_0123456789abcdef"
TOKEN = "ops-test-token-0123456789"
SIGNING_SECRET = "whsec_ops_previous_0123456789"
MAX_RECEIVE_COUNT = 2


@dataclass
class World:
    aws: LocalAws
    standin: StripeStandin
    service: str
    outputs: dict[str, str]

    def env(self, **extra: str) -> dict[str, str]:
        """The operator's shell: credentials for moto, the stage's name, the stand-in."""
        return {
            **os.environ,
            **self.aws.env(),
            "SERVICE_NAME": self.service,
            "STRIPE_API_BASE": self.standin.url,
            # A deployed stage requires its public URL, in place of the config's placeholder.
            "PUBLIC_BASE_URL": "https://bridge.example.com/api",
            **extra,
        }

    def ops(
        self, *args: str, stage: str = "dev", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ops", *args, "--stage", stage],
            cwd=ROOT,
            env=self.env() if env is None else env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ops_json(self, *args: str) -> Any:
        result = self.ops(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    @property
    def sqs(self) -> Any:
        return self.aws.client("sqs")

    def messages(self, url_key: str) -> list[dict[str, Any]]:
        """Every message visible now in the queue (received, then made visible again)."""
        seen: dict[str, dict[str, Any]] = {}
        while batch := self.sqs.receive_message(
            QueueUrl=self.outputs[url_key],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=30,
            WaitTimeSeconds=0,
        ).get("Messages", []):
            seen.update({m["MessageId"]: m for m in batch})
        for message in seen.values():
            self.sqs.change_message_visibility(
                QueueUrl=self.outputs[url_key],
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        return list(seen.values())


@pytest.fixture
def world(aws: LocalAws) -> Iterator[World]:
    service = f"ops-{uuid.uuid4().hex[:10]}"
    outputs = deploy_stack(
        aws,
        ROOT / "infra" / "template.yaml",
        service,
        {
            "ServiceName": service,
            "VisibilityTimeoutSeconds": "1",
            "MaxReceiveCount": str(MAX_RECEIVE_COUNT),
        },
    )
    put_secrets(
        aws,
        f"/{service}",
        {
            "stripe-secret-key": STRIPE_KEY,
            "platform-api-token": TOKEN,
            "metadata-signing-keys": "ops-test-metadata-key-0123456789abcdef",
            "webhook-signing-secrets": SIGNING_SECRET,
        },
    )
    with StripeStandin(port=0, api_key=STRIPE_KEY, client_id=f"ca_{service}") as standin:
        yield World(aws, standin, service, outputs)
