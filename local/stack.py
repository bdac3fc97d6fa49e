"""The whole service on one machine: AWS (moto), Stripe (the stand-in), the API and the consumer.

`python -m local.stack` brings it up in the foreground and prints what to try; tests start a
LocalStack on free ports. The same infra/template.yaml as in AWS is deployed into moto.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from chalicelib.adapters.dynamodb import DynamoAccountStore
from chalicelib.adapters.messaging import NOTIFICATION_SOURCE
from chalicelib.adapters.secrets import SsmSecrets
from chalicelib.domain.accounts import ConnectedAccount
from chalicelib.settings import Settings
from chalicelib.wiring import (
    SECRET_CLIENT_ID,
    SECRET_METADATA_KEYS,
    SECRET_PLATFORM_TOKEN,
    SECRET_STRIPE_KEY,
    now,
)
from local.aws import LocalAws, deploy_stack, put_secrets
from local.lifetime import stop_signals, wait_for
from local.stripe_standin import StripeStandin
from ops.notifications import local_inbox_name
from ops.stage import PROJECT_DIR, stage_environment
from ops.webhooks import provision_connect_endpoint

STAGE = "local"
# The local stage's own name (.chalice/config.json): the Lambdas find the stack's resources by it.
SERVICE_NAME = stage_environment(STAGE)["SERVICE_NAME"]
DEMO_COMPANY = "demo-company"
DEMO_ACCOUNT = "acct_demo"


@dataclass
class StackConfig:
    api_port: int = 8000
    stripe_port: int = 12111
    aws_port: int = 5005
    platform_token: str = "local-platform-token"
    metadata_signing_keys: str = "local-metadata-signing-key-0123456789abcdef"
    stripe_secret_key: str = "sk_test_local"
    stripe_client_id: str = "ca_local"
    # AWS defaults (180 s visibility, 5 receives) would make a poison message take 15 minutes
    # to reach the dead-letter queue locally; the rule visibility >= 6 x timeout still holds.
    consumer_timeout: int = 5
    visibility_timeout: int = 30
    max_receive_count: int = 5
    # Off: an admin connects a Stripe account by following a connect link, as in production.
    seed_demo_account: bool = False
    log_dir: Path | None = None  # None: the processes write to this terminal
    # How often the scheduled handlers run locally (AWS: minutes, set per stage).
    schedule_interval: float = 10.0
    # The `@app.schedule` handlers the local scheduler runs.
    scheduled_jobs: tuple[str, ...] = ("schedule_event_recovery",)
    # The sweep runs on its own interval, with a backoff in seconds rather than minutes: a
    # payment no webhook repairs is repaired within seconds, while you watch.
    sweep_interval: float = 5.0
    sweep_backoff: str = "0,2,5,10,30"
    # Benchmarks: moto and the stand-in count and time every request they serve.
    count_requests: bool = False


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.aws = LocalAws(port=self.config.aws_port, count_requests=self.config.count_requests)
        self.stripe = StripeStandin(
            port=self.config.stripe_port,
            api_key=self.config.stripe_secret_key,
            client_id=self.config.stripe_client_id,
            count_requests=self.config.count_requests,
        )
        self.outputs: dict[str, str] = {}
        self.platform_inbox_url = ""
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.api_port}"

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        config = self.config
        self.aws.start()
        # The platform's side: its own queue, subscribed through the template's parameter as a
        # deployed stage would subscribe the platform's.
        self.platform_inbox_url, platform_inbox_arn = self._platform_inbox()
        self.outputs = deploy_stack(
            self.aws,
            PROJECT_DIR / "infra" / "template.yaml",
            SERVICE_NAME,
            {
                "ServiceName": SERVICE_NAME,
                "ConsumerTimeoutSeconds": str(config.consumer_timeout),
                "VisibilityTimeoutSeconds": str(config.visibility_timeout),
                "MaxReceiveCount": str(config.max_receive_count),
                "PlatformQueueArn": platform_inbox_arn,
            },
        )
        self.stripe.start()
        put_secrets(
            self.aws,
            f"/{SERVICE_NAME}",
            {
                SECRET_STRIPE_KEY: config.stripe_secret_key,
                SECRET_PLATFORM_TOKEN: config.platform_token,
                SECRET_METADATA_KEYS: config.metadata_signing_keys,
                SECRET_CLIENT_ID: config.stripe_client_id,
            },
        )
        self._provision_webhook()
        if config.seed_demo_account:
            self.seed_account(DEMO_ACCOUNT, DEMO_COMPANY)
        env = self._lambda_env()
        self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "local.api_server",
                "--port",
                str(config.api_port),
                "--stage",
                STAGE,
                *[f"--env={k}={v}" for k, v in env.items()],
            ],
            env,
        )
        self._spawn(
            "consumer",
            [
                sys.executable,
                "-m",
                "local.worker",
                "--queue-url",
                self.outputs["EventsQueueUrl"],
                "--timeout",
                str(config.consumer_timeout),
            ],
            {**stage_environment(STAGE, "consume_events"), **env},
        )
        self._spawn(
            "recovery-worker",
            [
                sys.executable,
                "-m",
                "local.worker",
                "--queue-url",
                self.outputs["RecoveryQueueUrl"],
                "--handler",
                "recover_account_events",
                "--batch-size",
                "1",
            ],
            {**stage_environment(STAGE, "recover_account_events"), **env},
        )
        self._spawn(
            "scheduler",
            [
                sys.executable,
                "-m",
                "local.scheduler",
                "--interval",
                str(config.schedule_interval),
                *[f"--job={job}" for job in config.scheduled_jobs],
                f"--job=sweep_payments={config.sweep_interval}",
            ],
            {**stage_environment(STAGE, "sweep_payments"), **env},
        )
        # What the platform receives, shown as it arrives (one JSON line each in a log file),
        # from a copy of its queue: the platform's own is left for `ops notifications tail`.
        tail = [sys.executable, "-m", "ops", "notifications", "tail", "--stage", STAGE]
        tail += ["--queue", self._console_queue()]
        self._spawn(
            "platform", tail + (["--json"] if config.log_dir is not None else []), self.aws.env()
        )
        _wait_for_http(f"{self.api_url}/payments", self._processes[0])

    def _console_queue(self) -> str:
        """A second subscriber of the bus, which this terminal shows."""
        name = f"{local_inbox_name(SERVICE_NAME)}-console"
        url, arn = self._platform_queue(name)
        bus, rule = self.outputs["NotificationsBusName"], f"{SERVICE_NAME}-to-console"
        events = self.aws.client("events")
        pattern = {"source": [NOTIFICATION_SOURCE]}
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "console", "Arn": arn}])
        return name

    def _platform_inbox(self) -> tuple[str, str]:
        return self._platform_queue(local_inbox_name(SERVICE_NAME))

    def _platform_queue(self, name: str) -> tuple[str, str]:
        sqs = self.aws.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        # What the platform's queue policy says on AWS: only the service's rule may send.
        rule = f"arn:aws:events:{self.aws.region}:*:rule/{SERVICE_NAME}-notifications/*"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": rule}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        return url, arn

    def _provision_webhook(self) -> None:
        """Register the Connect endpoint on the stand-in with the operator command's code."""
        settings = Settings.from_env(
            {**stage_environment(STAGE), "STRIPE_API_BASE": self.stripe.url}
        )
        secrets = SsmSecrets(self.aws.client("ssm"), settings.secrets_path, max_age_seconds=0)
        provision_connect_endpoint(settings, secrets, f"{self.api_url}/webhooks/stripe")

    def seed_account(self, account_id: str, company_id: str) -> None:
        """A connected account on both sides, as if its admin had gone through OAuth."""
        _post_json(f"{self.stripe.url}/_standin/accounts", {"id": account_id})
        store = DynamoAccountStore(self.aws.client("dynamodb"), self.outputs["AccountsTableName"])
        store.put(ConnectedAccount(account_id, company_id, livemode=False, connected_at=now()))

    def _lambda_env(self) -> dict[str, str]:
        return {
            **self.aws.env(),
            "STRIPE_API_BASE": self.stripe.url,
            "PUBLIC_BASE_URL": self.api_url,
            "EVENTS_QUEUE_URL": self.outputs["EventsQueueUrl"],
            "RECOVERY_QUEUE_URL": self.outputs["RecoveryQueueUrl"],
            # One local worker, no Stripe rate to share: no spacing between calls.
            "RECOVERY_MIN_CALL_INTERVAL_SECONDS": "0",
            "SWEEP_BACKOFF_SECONDS": self.config.sweep_backoff,
        }

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        if self.config.count_requests:
            # Each process's AWS calls say whose they are (User-Agent "app/<name>").
            env = {**env, "AWS_SDK_UA_APP_ID": name}
        output: Any = None
        if self.config.log_dir is not None:
            self.config.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self.config.log_dir / f"{name}.log", "ab")  # noqa: SIM115
            self._logs.append(output)
        self._processes.append(
            subprocess.Popen(
                command,
                cwd=PROJECT_DIR,
                env={**os.environ, **env},
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
            )
        )

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        self.stripe.stop()
        self.aws.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local API exited with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the local API did not answer on {url} within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    defaults = StackConfig()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-port", type=int, default=defaults.api_port)
    parser.add_argument("--stripe-port", type=int, default=defaults.stripe_port)
    parser.add_argument("--aws-port", type=int, default=defaults.aws_port)
    parser.add_argument("--visibility-timeout", type=int, default=defaults.visibility_timeout)
    parser.add_argument("--max-receive-count", type=int, default=defaults.max_receive_count)
    parser.add_argument("--log-dir", type=Path, help="write the processes' logs there")
    parser.add_argument(
        "--schedule-interval",
        type=float,
        default=defaults.schedule_interval,
        help="seconds between runs of the scheduled handlers (event recovery…)",
    )
    parser.add_argument(
        "--sweep-interval",
        type=float,
        default=defaults.sweep_interval,
        help="seconds between runs of the reconciliation sweep",
    )
    parser.add_argument(
        "--sweep-backoff",
        default=defaults.sweep_backoff,
        help="seconds from a change (then each check) to a payment's next check, comma-separated",
    )
    parser.add_argument(
        "--seed-demo-account",
        action="store_true",
        help=f"store {DEMO_ACCOUNT} for {DEMO_COMPANY} as if connected, skipping the OAuth link",
    )
    args = parser.parse_args(argv)
    stack = LocalStack(
        StackConfig(
            api_port=args.api_port,
            stripe_port=args.stripe_port,
            aws_port=args.aws_port,
            visibility_timeout=args.visibility_timeout,
            max_receive_count=args.max_receive_count,
            log_dir=args.log_dir,
            seed_demo_account=args.seed_demo_account,
            schedule_interval=args.schedule_interval,
            sweep_interval=args.sweep_interval,
            sweep_backoff=args.sweep_backoff,
        )
    )
    stopped = stop_signals()
    with stack:
        print(welcome(stack), flush=True)
        wait_for(stopped)


def welcome(stack: LocalStack) -> str:
    api, token, stripe_url = stack.api_url, stack.config.platform_token, stack.stripe.url
    inbox = local_inbox_name(SERVICE_NAME)
    seeded = f" (with {DEMO_ACCOUNT} already connected)" if stack.config.seed_demo_account else ""
    return f"""
The service is up.
  API (platform + webhooks)  {api}
  Stripe stand-in            {stripe_url}
  AWS (moto)                 {stack.aws.endpoint_url}
  Platform token             {token}
  Demo company               {DEMO_COMPANY}{seeded}

Try it (in another terminal):
  # 1. the platform asks for a connect link for the company's admin
  curl -s -X POST {api}/companies/{DEMO_COMPANY}/connect-links \\
    -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
    -d '{{"email": "owner@demo.test", "connected_by": "admin"}}'
  # 2. the admin opens its "url" in a browser, clicks Connect on the Stripe stand-in's page
  #    and sees the success page; or, with curl (LINK_URL is that url):
  AUTHORIZE=$(curl -s -c jar -o /dev/null -w '%{{redirect_url}}' LINK_URL)
  curl -s -b jar -L "$AUTHORIZE" -d decision=connect
  # 3. start a payment for two invoices
  curl -s -X POST {api}/payments -H 'Authorization: Bearer {token}' \\
    -H 'Content-Type: application/json' \\
    -d '{{"company_id": "{DEMO_COMPANY}", "amount": 1500, "currency": "usd", "invoices": [
         {{"invoice_id": "INV-1", "amount": 1000}}, {{"invoice_id": "INV-2", "amount": 500}}]}}'
  # 4. the customer pays with a card, then closes the tab (use the payment_intent_id above)
  curl -s -X POST {stripe_url}/_standin/payment_intents/PI_ID/pay -d '{{"method": "card_3ds"}}'
  # 5. the webhook repaired it: read the payment back (use the payment_id above)
  curl -s {api}/payments/PAYMENT_ID -H 'Authorization: Bearer {token}'
  # 6. what the platform was told: the line "payment.updated  pay_….v1  pay_…  succeeded" below
  #    (a copy); the platform's own queue, {inbox}, in another terminal:
  python -m ops notifications tail --stage local

Logs of the API, the consumer and the platform's queue follow. Ctrl-C stops everything.
"""


if __name__ == "__main__":
    main()
