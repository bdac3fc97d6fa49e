"""Cold starts of the deployed artefact, as Lambda loads it, beside a minimal webhook handler.

    python -m bench.cold_start [--runs 15] [--stage prod] [--against REV]

`chalice package` builds the stage; its deployment.zip is unpacked as Lambda lays it out
(the function code alone on sys.path, then the runtime's boto3), and each function is started
in fresh interpreters: import the handler, then its first request — the webhook, the platform
API, the connect page, the consumer. AWS and Stripe are answered from a recording
(bench/replay.py), so only the function's own work is timed. The minimal handler a user would
write (bench/minimal_webhook.py: construct_event + SQS) runs in the same invocation, and every
figure is also printed as a ratio to it, so that noise between machines cancels.

The consumer's calls per event are counted on the recording runs. `--against REV` measures a
git revision of the project the same way, in the same invocation, and prints both side by side.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOOT = Path(__file__).with_name("lambda_boot.py")
# What Lambda's Python runtime ships besides the standard library (in /var/runtime).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
STRIPE_KEY = "sk_test_bench"
WEBHOOK_SECRET = "whsec_bench_0123456789abcdef0123"
PLATFORM_TOKEN = "bench-platform-token-0123456789"
COMPANY = "co_bench"


@dataclass
class Function:
    name: str
    handler: str
    env: dict[str, str]


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--against", help="a git revision to measure beside the work tree")
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)  # one tree, for --against
    args = parser.parse_args()
    if args.json:
        args.json.write_text(json.dumps(measure(ROOT, args.stage, args.runs)))
        return
    columns = {"this tree": measure(ROOT, args.stage, args.runs)}
    if args.against:
        columns = {f"at {args.against}": _measure_revision(args), **columns}
    print(report(columns, args.runs))


def _measure_revision(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-rev-") as tmp:
        tree = Path(tmp) / "tree"
        archive = subprocess.run(
            ["git", "archive", "--format=tar", args.against],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        tree.mkdir()
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        # The revision is measured by this benchmark, not by the one it had.
        shutil.rmtree(tree / "bench", ignore_errors=True)
        shutil.copytree(
            ROOT / "bench", tree / "bench", ignore=shutil.ignore_patterns("__pycache__")
        )
        out = Path(tmp) / "figures.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.cold_start",
                "--stage",
                args.stage,
                "--runs",
                str(args.runs),
                "--json",
                str(out),
            ],
            cwd=tree,
            check=True,
        )
        return json.loads(out.read_text())


# --- building the artefact -------------------------------------------------------------------


def package(tree: Path, stage: str, out: Path) -> dict[str, Function]:
    chalice = Path(sys.executable).with_name("chalice")
    if (tree / "ops" / "bundle.py").exists():
        # The deployed artefact: vendor/ built as the README's deploy steps build it.
        subprocess.run(
            [sys.executable, "-m", "ops", "bundle", "--stage", stage],
            cwd=tree,
            check=True,
            capture_output=True,
        )
    subprocess.run(
        [str(chalice), "package", "--stage", stage, str(out / "package")],
        cwd=tree,
        check=True,
        capture_output=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
    )
    with zipfile.ZipFile(out / "package" / "deployment.zip") as bundle:
        bundle.extractall(out / "task")
    resources = json.loads((out / "package" / "sam.json").read_text())["Resources"]
    functions = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        functions[logical_id] = Function(
            logical_id,
            properties["Handler"],
            properties.get("Environment", {}).get("Variables", {}),
        )
    return functions


def compiled_copy(task: Path, target: Path) -> Path:
    """The function code with .pyc beside it, as a build step or a layer could ship it."""
    shutil.copytree(task, target)
    compileall.compile_dir(
        target,
        quiet=1,
        workers=0,
        invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return target


def runtime_dir(target: Path) -> Path:
    """What Lambda's runtime puts on sys.path after the function's code: boto3, compiled."""
    if target.exists():
        return target
    site = Path(__import__("boto3").__file__).parents[1]
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in RUNTIME_PACKAGES:
        source = site / name
        if source.is_dir():
            shutil.copytree(source, staging / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, staging / name)
    compileall.compile_dir(staging, quiet=1, workers=0)
    staging.rename(target)
    return target


def bundle_sizes(task: Path, loaded: set[str]) -> dict[str, Any]:
    sizes: dict[str, int] = {}
    never: dict[str, int] = {}
    for path in task.rglob("*"):
        if not path.is_file():
            continue
        relative = str(path.relative_to(task))
        top = "/".join(relative.split("/")[:2]) if "/" in relative else relative
        sizes[top] = sizes.get(top, 0) + path.stat().st_size
        if relative.endswith(".py") and relative not in loaded:
            never[top] = never.get(top, 0) + path.stat().st_size
    return {
        "unzipped_bytes": sum(sizes.values()),
        "never_imported_bytes": sum(never.values()),
        "never_imported_top": sorted(never.items(), key=lambda item: -item[1])[:5],
    }


# --- the world the functions talk to ---------------------------------------------------------


class World:
    """moto and the Stripe stand-in with one connected account, a payment and a connect link."""

    def __init__(self, tree: Path, functions: dict[str, Function], out: Path) -> None:
        from local.aws import LocalAws
        from local.stripe_standin import StripeStandin

        self.tree, self.out = tree, out
        self.aws = LocalAws(port=0).start()
        self.standin = StripeStandin(port=0, api_key=STRIPE_KEY, client_id="ca_bench").start()
        from bench.replay import ReplayServer

        self.replay = ReplayServer(self.aws.endpoint_url, self.standin.url).start()
        self.api_env = functions["APIHandler"].env
        self.service = self.api_env.get("SERVICE_NAME", "stripe-bridge")

    def set_up(self) -> None:
        from local.aws import deploy_stack, put_secrets

        self.outputs = deploy_stack(
            self.aws,
            self.tree / "infra" / "template.yaml",
            self.service,
            {"ServiceName": self.service},
        )
        secrets_path = self.api_env.get("SECRETS_PATH") or f"/{self.service}"
        put_secrets(
            self.aws,
            secrets_path,
            {
                "stripe-secret-key": STRIPE_KEY,
                "platform-api-token": PLATFORM_TOKEN,
                "webhook-signing-secrets": WEBHOOK_SECRET,
                "stripe-client-id": "ca_bench",
                "metadata-signing-keys": "bench-metadata-key-0123456789abcdef",
            },
        )
        # The set-up itself goes through the app of the tree measured, straight to the emulators.
        os.environ.update(self.lambda_env(self.api_env, direct=True))
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        from chalicelib import wiring

        wiring.reset()
        self.account = "acct_1Bench" + os.urandom(4).hex()
        self._seed_account()
        self.payment = self._api(
            "POST",
            "/payments",
            {
                "company_id": COMPANY,
                "amount": 1500,
                "currency": "usd",
                "invoices": [{"invoice_id": "INV-1", "amount": 1500}],
            },
        )
        link = self._api("POST", f"/companies/{COMPANY}/connect-links", {"email": "a@b.test"})
        self.link_id = link["url"].rstrip("/").rsplit("/", 1)[-1]

    def _seed_account(self) -> None:
        from local.stack import LocalStack

        # The stack's own way of storing an account as if its admin had connected it.
        holder = LocalStack.__new__(LocalStack)
        holder.aws, holder.stripe, holder.outputs = self.aws, self.standin, self.outputs
        LocalStack.seed_account(holder, self.account, COMPANY)

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        from local.apigw import invoke

        answer = invoke(
            method,
            path,
            json.dumps(body) if body is not None else None,
            {"authorization": f"Bearer {PLATFORM_TOKEN}"},
        )
        if answer.status >= 300:
            raise RuntimeError(f"set-up {method} {path}: {answer.status} {answer.body}")
        return answer.body

    def lambda_env(self, env: dict[str, str], direct: bool = False) -> dict[str, str]:
        """A function's deployed environment, aimed at the recording (or the emulators)."""
        aws_url = self.aws.endpoint_url if direct else self.replay.url
        stripe_url = self.standin.url if direct else self.replay.url
        return {
            **env,
            **{k: v for k, v in self.aws.env().items() if k != "AWS_ENDPOINT_URL"},
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "STRIPE_API_BASE": stripe_url,
            # The stand-in plays test mode.
            "LIVEMODE": "false",
            # The stage's own is a placeholder the settings refuse; the bench serves no browser.
            "PUBLIC_BASE_URL": "https://bench.example.test",
        }

    def pay(self, method: str = "card") -> dict[str, Any]:
        """A new payment, paid by the customer; the events Stripe sent for it, oldest first."""
        payment = self._api(
            "POST",
            "/payments",
            {
                "company_id": COMPANY,
                "amount": 1500,
                "currency": "usd",
                "invoices": [{"invoice_id": "INV-2", "amount": 1500}],
            },
        )
        self.control(f"/payment_intents/{payment['payment_intent_id']}/pay", {"method": method})
        return payment

    def events_of(self, payment_intent_id: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(
            f"{self.standin.url}/_standin/events?account={self.account}", timeout=10
        ) as answer:
            events = [record["event"] for record in json.loads(answer.read())["data"]]

        def names(event: dict[str, Any]) -> bool:
            obj = event["data"]["object"]
            return payment_intent_id in (obj.get("id"), obj.get("payment_intent"))

        return [e for e in events if names(e)]

    def control(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.standin.url}/_standin{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def sqs_event(self, *events: dict[str, Any]) -> dict[str, Any]:
        """The events as the consumer's trigger hands them over, through the real queue."""
        from chalicelib.adapters.messaging import SqsEventQueue
        from chalicelib.domain.webhooks import envelope_of
        from local.sqs_trigger import SqsTrigger

        sqs = self.aws.client("sqs")
        url = self.outputs["EventsQueueUrl"]
        # What the webhook runs queued is not this run's.
        while stale := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in stale:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        for event in events:
            SqsEventQueue(sqs, url).send(envelope_of(event), json.dumps(event))
        records = []
        trigger = SqsTrigger(sqs, url, lambda *_: None, wait_time_seconds=0)
        while len(records) < len(events):
            for message in sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=1,
            ).get("Messages", []):
                records.append(trigger._record(message))
        return {"Records": records}

    def stop(self) -> None:
        self.replay.stop()
        self.standin.stop()
        self.aws.stop()


def webhook_request(path: str, body: str, headers: dict[str, str]) -> dict[str, Any]:
    """API Gateway's proxy event for a POST."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {"content-type": "application/json", **headers},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "POST",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "bench",
            "identity": {"sourceIp": "1.2.3.4"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def get_request(resource: str, path: str, parameters: dict[str, str], headers: dict[str, str]):
    event = webhook_request(resource, "", headers)
    event.update(httpMethod="GET", path=path, pathParameters=parameters, body=None)
    event["requestContext"].update(httpMethod="GET", path=f"/api{path}")
    return event


def signed_event(account: str, payment_intent_id: str) -> tuple[str, str]:
    import stripe

    body = json.dumps(
        {
            "id": "evt_bench" + os.urandom(6).hex(),
            "object": "event",
            "api_version": "2026-10-28",
            "created": int(time.time()),
            "type": "payment_intent.succeeded",
            "livemode": False,
            "account": account,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {
                "object": {
                    "id": payment_intent_id,
                    "object": "payment_intent",
                    "status": "succeeded",
                    "amount": 1500,
                    "currency": "usd",
                }
            },
        }
    )
    return body, stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)


# --- the runs --------------------------------------------------------------------------------


def boot(spec: dict[str, Any], env: dict[str, str], out: Path, pyc: bool) -> dict[str, Any]:
    spec_file = out / "spec.json"
    spec_file.write_text(json.dumps(spec))
    full_env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", **env}
    # Lambda's task directory is read-only: nothing compiled there survives a cold start.
    # (-B, not PYTHONDONTWRITEBYTECODE, which -I ignores.)
    flags = ["-I", "-S"] if pyc else ["-I", "-S", "-B"]
    answer = subprocess.run(
        [sys.executable, *flags, str(BOOT), str(spec_file)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"{spec['handler']} failed:\n{answer.stderr[-3000:]}")
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    result["log"] = answer.stderr
    return result


def measure(tree: Path, stage: str, runs: int) -> dict[str, Any]:
    sys.path.insert(0, str(tree))
    out = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    try:
        return _measure(tree, stage, runs, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _measure(tree: Path, stage: str, runs: int, out: Path) -> dict[str, Any]:
    functions = package(tree, stage, out)
    task = out / "task"
    task_pyc = compiled_copy(task, out / "task-pyc")
    runtime = runtime_dir(
        ROOT / "build" / "bench" / f"runtime-py{sys.version_info[0]}{sys.version_info[1]}"
    )
    minimal = out / "minimal"
    shutil.copytree(task, minimal)
    shutil.copy2(Path(__file__).with_name("minimal_webhook.py"), minimal / "minimal_webhook.py")

    world = World(tree, functions, out)
    try:
        world.set_up()
        api_env = world.lambda_env(functions["APIHandler"].env)
        consumer_env = world.lambda_env(functions["ConsumeEvents"].env)
        token = {"authorization": f"Bearer {PLATFORM_TOKEN}"}
        body, signature = signed_event(world.account, world.payment["payment_intent_id"])
        webhook = webhook_request("/webhooks/stripe", body, {"stripe-signature": signature})
        paid = world.pay("card")
        card_events = [
            e
            for e in world.events_of(paid["payment_intent_id"])
            if e["type"] in ("charge.succeeded", "payment_intent.succeeded")
        ]
        pi_event = next(e for e in card_events if e["type"] == "payment_intent.succeeded")
        scenarios = {
            "webhook": ("app.app", api_env, webhook, webhook),
            "platform API": (
                "app.app",
                api_env,
                get_request(
                    "/payments/{payment_id}",
                    f"/payments/{world.payment['payment_id']}",
                    {"payment_id": world.payment["payment_id"]},
                    token,
                ),
                None,
            ),
            "connect page": (
                "app.app",
                api_env,
                get_request(
                    "/connect/{link_id}",
                    f"/connect/{world.link_id}",
                    {"link_id": world.link_id},
                    {"accept-language": "en"},
                ),
                None,
            ),
            "consumer": ("app.consume_events", consumer_env, world.sqs_event(pi_event), None),
            "minimal webhook": (
                "minimal_webhook.handler",
                {
                    **world.lambda_env({}),
                    "WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "QUEUE_URL": world.outputs["EventsQueueUrl"],
                },
                webhook,
                webhook,
            ),
        }
        figures: dict[str, Any] = {"paths": {}, "calls": {}}
        loaded: set[str] = set()
        for label, (handler, env, event, warm) in scenarios.items():
            base = minimal if label == "minimal webhook" else task
            compiled = None if label == "minimal webhook" else task_pyc
            spec = {
                "paths": [str(base), str(runtime)],
                "handler": handler,
                "event": event,
                "warm_event": warm,
                "function": label,
            }
            calls = world.replay.record()
            first = boot(spec, env, out, pyc=False)
            if first["status"] is not None and first["status"] >= 400:
                raise RuntimeError(f"{label} answered {first['status']}:\n{first['log'][-2000:]}")
            figures["calls"][label] = {"aws": calls.aws(), "stripe": calls.stripe()}
            if base is task:
                loaded.update(first["files"])
            timed = {"packaged": [], "compiled": []}
            for _ in range(runs):
                world.replay.replay()
                timed["packaged"].append(boot(spec, env, out, pyc=False))
                if compiled is not None:
                    world.replay.replay()
                    timed["compiled"].append(
                        boot({**spec, "paths": [str(compiled), str(runtime)]}, env, out, pyc=True)
                    )
            figures["paths"][label] = {
                variant: {
                    "init_ms": statistics.median(r["init_ms"] for r in results),
                    "total_ms": statistics.median(r["init_ms"] + r["first_ms"] for r in results),
                    "warm_ms": statistics.median(r["warm_ms"] for r in results)
                    if results and results[0]["warm_ms"] is not None
                    else None,
                }
                for variant, results in timed.items()
                if results
            }
        figures["calls"].update(
            consumer_calls(world, consumer_env, task, runtime, out, pi_event, card_events)
        )
        figures["bundle"] = {
            "zipped_bytes": (out / "package" / "deployment.zip").stat().st_size,
            **bundle_sizes(task, loaded),
        }
        figures["python"] = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return figures
    finally:
        world.stop()


def consumer_calls(
    world: World,
    env: dict[str, str],
    task: Path,
    runtime: Path,
    out: Path,
    repaired: dict[str, Any],
    card_events: list[dict[str, Any]],
) -> dict[str, Any]:
    """Calls the consumer makes per event: once more for the event just repaired, and a card
    payment's two events (charge.succeeded, then payment_intent.succeeded) on a fresh payment."""

    def run(event: dict[str, Any]) -> dict[str, list[str]]:
        calls = world.replay.record()
        boot(
            {
                "paths": [str(task), str(runtime)],
                "handler": "app.consume_events",
                "event": event,
                "warm_event": None,
                "function": "consumer",
            },
            env,
            out,
            pyc=False,
        )
        return {"aws": calls.aws(), "stripe": calls.stripe()}

    again = run(world.sqs_event(repaired))
    fresh = world.pay("card")
    both = [
        e
        for e in world.events_of(fresh["payment_intent_id"])
        if e["type"] in ("charge.succeeded", "payment_intent.succeeded")
    ]
    both.sort(key=lambda e: e["type"] != "charge.succeeded")
    card = [run(world.sqs_event(event)) for event in both]
    return {
        "consumer, same event again": again,
        "card payment, both events": {
            "aws": [c for calls in card for c in calls["aws"]],
            "stripe": [c for calls in card for c in calls["stripe"]],
        },
    }


# --- the report ------------------------------------------------------------------------------


def report(columns: dict[str, dict[str, Any]], runs: int) -> str:
    names = list(columns)
    lines = [
        f"Cold start of each function from the deployed artefact (median of {runs} fresh"
        " interpreters; init + first request, ms; × = ratio to the minimal webhook handler"
        " of the same run)",
        "",
    ]
    header = f"{'':46}" + "".join(f"{name:>26}" for name in names)
    lines += [header, "-" * len(header)]

    def row(label: str, cell) -> None:
        lines.append(f"{label:46}" + "".join(f"{cell(columns[n]):>26}" for n in names))

    def timing(path: str, variant: str, key: str = "total_ms"):
        def cell(figures: dict[str, Any]) -> str:
            value = figures["paths"].get(path, {}).get(variant, {}).get(key)
            yardstick = figures["paths"]["minimal webhook"]["packaged"][key]
            return "—" if value is None else f"{value:7.0f} ms  {value / yardstick:4.2f}×"

        return cell

    row("minimal webhook handler (the yardstick)", timing("minimal webhook", "packaged"))
    for path in ("webhook", "platform API", "connect page", "consumer"):
        row(f"{path}: as packaged", timing(path, "packaged"))
        row(f"{path}: every file compiled", timing(path, "compiled"))
    row("webhook: init only (import app.py)", timing("webhook", "packaged", "init_ms"))

    def warm(figures: dict[str, Any]) -> str:
        value = figures["paths"]["webhook"]["packaged"]["warm_ms"]
        return f"{value * 1000:7.0f} µs"

    row("webhook: warm request (AWS over loopback)", warm)
    lines.append("")

    def calls(label: str):
        def cell(figures: dict[str, Any]) -> str:
            made = figures["calls"].get(label)
            if made is None:
                return "—"
            gets = sum(1 for c in made["stripe"] if c.startswith("GET "))
            others = len(made["stripe"]) - gets
            extra = f"+{others}" if others else ""
            return f"{gets}{extra} Stripe, {len(made['aws'])} AWS"

        return cell

    row("webhook: calls (cold)", calls("webhook"))
    row("consumer: repaired payment_intent.succeeded", calls("consumer"))
    row("consumer: the same event again", calls("consumer, same event again"))
    row("consumer: a card payment's two events", calls("card payment, both events"))
    lines.append("")

    def size(key: str):
        return lambda figures: f"{figures['bundle'][key] / 1e6:6.1f} MB"

    row("bundle: zipped", size("zipped_bytes"))
    row("bundle: unzipped", size("unzipped_bytes"))
    row("bundle: .py never imported by any path", size("never_imported_bytes"))
    lines.append("")
    for name in names:
        figures = columns[name]
        top = ", ".join(f"{p} {b / 1e6:.1f} MB" for p, b in figures["bundle"]["never_imported_top"])
        lines.append(f"{name}: Python {figures['python']}; never imported, largest: {top}")
        for label in ("consumer", "consumer, same event again", "card payment, both events"):
            made = figures["calls"][label]
            lines.append(f"  {label}: {_tally(made['aws'] + made['stripe'])}")
    return "\n".join(lines)


def _tally(calls: list[str]) -> str:
    counts: dict[str, int] = {}
    for call in calls:
        short = call.split(".", 1)[-1] if "." in call.split(" ")[0] else call
        counts[short] = counts.get(short, 0) + 1
    return ", ".join(f"{n}× {c}" if n > 1 else c for c, n in counts.items())


if __name__ == "__main__":
    main()
