"""The operator's entry point: python -m ops <command> [--stage STAGE] ...

Adding a command is one function under `cli` (or one of its groups) decorated with
@on_stage: it receives the stage, and its misconfigurations are reported in one line.
"""

from __future__ import annotations

import functools
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chalicelib.adapters.dynamodb import DynamoPaymentStore, history_table_of
from chalicelib.adapters.failures import DynamoEventFailures
from chalicelib.domain.imports import (
    FORMATS,
    Import,
    UnreadableFile,
    decode,
    file_format,
    parse_file,
)
from ops import dlq as dead_letters
from ops.payments import PAYMENT_ID, payment_report, readable
from ops.stage import LOCAL_STAGE, OpsError, Stage

EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,64}")


def on_stage(command: Callable[..., Any]) -> Callable[..., Any]:
    """Adds --stage; the command gets the Stage, and AWS or Stripe trouble as one line."""

    @click.option(
        "--stage",
        "stage_name",
        default=LOCAL_STAGE,
        show_default=True,
        help="stage of .chalice/config.json; AWS credentials and region from the shell",
    )
    @functools.wraps(command)
    def run(stage_name: str, **options: Any) -> Any:
        stage = Stage(stage_name)
        with stage.plain_errors():
            return command(stage, **options)

    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Operator commands of stripe-bridge, against the local stack or a deployed stage."""


@cli.command("provision-webhook")
@click.option(
    "--url",
    help="the service's public /webhooks/stripe URL [default: PUBLIC_BASE_URL/webhooks/stripe]",
)
@on_stage
def provision_webhook(stage: Stage, url: str | None) -> None:
    """Create or update the platform's Connect webhook endpoint on Stripe and store its
    signing secret."""
    from ops.webhooks import provision_connect_endpoint

    base = stage.settings.public_base_url
    url = url or (f"{base}/webhooks/stripe" if base else None)
    if not url:
        raise OpsError("give --url (the service's public /webhooks/stripe URL)")
    report = provision_connect_endpoint(stage.settings, stage.secrets(), url)
    click.echo(json.dumps(report.as_dict(), indent=2))


@cli.group()
def dlq() -> None:
    """The dead-letter queue of Stripe events."""


def _queues(stage: Stage) -> tuple[dead_letters.DeadLetterQueue, str]:
    events_url = stage.queue_url(stage.settings.events_queue_name)
    sqs = stage.client("sqs")
    try:
        dead_url = dead_letters.dead_letter_queue_url(sqs, events_url, stage.queue_url)
    except LookupError as error:
        raise OpsError(f"stage {stage.name}: {error}") from None
    return dead_letters.DeadLetterQueue(sqs, dead_url), events_url


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per message, in a list")
@on_stage
def dlq_list(stage: Stage, as_json: bool) -> None:
    """What sits in the dead-letter queue, oldest first, and why it failed."""
    queue, _ = _queues(stage)
    failures = DynamoEventFailures(stage.client("dynamodb"), stage.settings.event_failures_table)
    try:
        letters = [letter for batch in queue.read() for letter in batch]
    finally:
        queue.release()
    letters.sort(key=lambda letter: letter.sent_at)
    known = failures.get_many([(m.account, m.event_id) for m in letters if m.event_id])
    rows = [
        dead_letters.describe_letter(letter, known.get((letter.account, letter.event_id or "")))
        for letter in letters
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if rows:
        for line in dead_letters.table(rows):
            click.echo(line)
    click.echo(f"{len(rows)} message(s) in {queue.name}")


@dlq.command("replay")
@click.option("--event-id", "event_ids", multiple=True, help="an event to move back (repeatable)")
@click.option("--all", "take_all", is_flag=True, help="move back every message")
@click.option("--dry-run", is_flag=True, help="say what would move; move nothing")
@on_stage
def dlq_replay(stage: Stage, event_ids: tuple[str, ...], take_all: bool, dry_run: bool) -> None:
    """Move messages back to the events queue (sent there first, then deleted here)."""
    if take_all == bool(event_ids):
        raise OpsError("give --event-id ID (one or more) or --all")
    for event_id in event_ids:
        if not EVENT_ID.fullmatch(event_id):
            raise OpsError(f"--event-id {event_id!r} is not a Stripe event id (evt_…)")
    wanted_ids = set(event_ids)
    queue, events_url = _queues(stage)
    with click.progressbar(
        length=queue.approximate_size(), label="reading the dead-letter queue", file=sys.stderr
    ) as bar:
        result = dead_letters.replay(
            queue,
            events_url,
            lambda letter: take_all or letter.event_id in wanted_ids,
            dry_run,
            bar.update,
        )
    verb = "would replay" if dry_run else "replayed"
    for letter in result.moved:
        click.echo(
            f"{verb} {letter.event_id or letter.message_id} {letter.event_type or '-'} "
            f"{letter.account or '-'}"
        )
    for letter, reason in result.refused:
        click.echo(f"not replayed {letter.event_id or letter.message_id}: {reason}", err=True)
    found = [letter for letter in result.moved] + [letter for letter, _ in result.refused]
    missing = sorted(wanted_ids - {letter.event_id for letter in found})
    for event_id in missing:
        click.echo(f"not in {queue.name}: {event_id}", err=True)
    left = result.left_alone + len(result.refused) + (len(result.moved) if dry_run else 0)
    events_queue = events_url.rstrip("/").rsplit("/", 1)[-1]
    summary = (
        f"{verb} {len(result.moved)} message(s) to {events_queue}; {left} left in {queue.name}"
    )
    click.echo(f"dry run: {summary}; nothing moved" if dry_run else summary)
    if result.refused or missing:
        sys.exit(1)


@cli.group()
def payment() -> None:
    """Payments as the service holds them."""


@payment.command("show")
@click.argument("payment_id")
@click.option("--json", "as_json", is_flag=True, help="as JSON, the payment as the API gives it")
@on_stage
def payment_show(stage: Stage, payment_id: str, as_json: bool) -> None:
    """The payment as the platform API describes it, its next check and its history."""
    if not PAYMENT_ID.fullmatch(payment_id):
        raise OpsError(f"{payment_id!r} is not a payment id (pay_…)")
    settings = stage.settings
    store = DynamoPaymentStore(
        stage.client("dynamodb"),
        settings.payments_table,
        history_table_of(settings.payments_table),
    )
    report = payment_report(store, payment_id)
    if report is None:
        click.echo(f"no payment {payment_id} in stage {stage.name}", err=True)
        sys.exit(1)
    click.echo(json.dumps(report, indent=2) if as_json else "\n".join(readable(report)))


@cli.command("import-accounts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="csv or jsonl [default: by the file's extension, else its first character]",
)
@click.option(
    "--skip-invalid", is_flag=True, help="import the good rows, list the bad ones and skip them"
)
@click.option("--dry-run", is_flag=True, help="check every row and say what would happen")
@on_stage
def import_accounts(
    stage: Stage, file: Path, fmt: str | None, skip_invalid: bool, dry_run: bool
) -> None:
    """Import a migration's Stripe accounts (company_id, account_id, email?, livemode?), each
    pending its admin's authorisation. Running it again changes nothing."""
    from chalicelib.adapters.dynamodb import DynamoAccountStore
    from chalicelib.adapters.messaging import EventBridgeNotifier
    from chalicelib.services.accounts import Accounts
    from chalicelib.services.connect import iso
    from ops import imports

    try:
        text = decode(file.read_bytes())
        parsed = parse_file(text, fmt or file_format(file.name, text), stage.settings.livemode)
    except UnreadableFile as error:
        raise OpsError(f"{file}: {error}; nothing imported") from None
    notifier = functools.cache(
        lambda: EventBridgeNotifier(stage.client("events"), stage.settings.notifications_bus)
    )
    accounts = Accounts(
        DynamoAccountStore(stage.client("dynamodb"), stage.settings.accounts_table), notifier
    )
    with click.progressbar(length=len(parsed.rows), label="checking rows", file=sys.stderr) as bar:
        checked = imports.check(accounts, parsed.rows, parsed.bad, lambda: bar.update(1))
    for bad in checked.bad:
        click.echo(f"{file}: {bad}", err=True)
    if checked.bad and not skip_invalid:
        click.echo(
            f"{len(checked.bad)} bad row(s) in {file}; nothing imported (correct them, or pass "
            f"--skip-invalid to import the {len(checked.ready)} other(s))",
            err=True,
        )
        sys.exit(1)
    if dry_run:
        for row, decision in checked.ready:
            click.echo(f"line {row.line}: would be {decision.outcome}: {decision.reason}")
        click.echo(f"dry run: {_import_summary(checked.ready, checked.bad)}; nothing imported")
        return
    with click.progressbar(length=len(checked.ready), label="importing", file=sys.stderr) as bar:
        done = imports.write(accounts, checked.ready, iso(time.time()), lambda: bar.update(1))
    refused = [(row, d) for row, d in done if d.outcome is Import.REFUSED]
    for row, decision in done:
        line = f"line {row.line}: {decision.outcome}: {decision.reason}"
        click.echo(line, err=decision.outcome is Import.REFUSED)
    click.echo(_import_summary(done, checked.bad))
    if refused:  # changed between the check and the write: an admin connected meanwhile
        sys.exit(1)


def _import_summary(done: Any, bad: Any) -> str:
    counts = {outcome: 0 for outcome in Import}
    for _, decision in done:
        counts[decision.outcome] += 1
    summary = f"{counts[Import.IMPORTED]} imported, {counts[Import.UNCHANGED]} unchanged"
    if counts[Import.REFUSED]:
        summary += f", {counts[Import.REFUSED]} refused"
    return summary + (f", {len(bad)} bad row(s) skipped" if bad else "")


@cli.group()
def notifications() -> None:
    """What the platform is told (the notifications bus), as the platform receives it."""


@notifications.command("tail")
@click.option(
    "--queue",
    "queue_name",
    help="name or URL of a queue subscribed to the bus [default for local: "
    "<ServiceName>-platform-inbox, the local stack's]",
)
@click.option("--json", "as_json", is_flag=True, help="each notification as one JSON line")
@click.option(
    "--consume",
    is_flag=True,
    help="delete what is shown (always, for local): reading a queue takes its messages",
)
@click.option("--count", type=click.IntRange(min=1), help="stop after this many notifications")
@on_stage
def notifications_tail(
    stage: Stage, queue_name: str | None, as_json: bool, consume: bool, count: int | None
) -> None:
    """Follow the notifications arriving in a queue subscribed to the bus, until Ctrl-C."""
    from ops.notifications import (
        FOLLOW_POLL_SECONDS,
        as_json_line,
        local_inbox_name,
        readable,
        received,
    )

    if not stage.local and not (queue_name and consume):
        # SQS hands a message to one reader: a deployed platform's queue must not be drained
        # by mistake.
        raise OpsError(
            f"stage {stage.name}: give --queue (a queue of your own subscribed to the bus) "
            "and --consume (what is shown is taken from that queue)"
        )
    queue_name = queue_name or local_inbox_name(stage.settings.service_name)
    url = queue_name if queue_name.startswith(("https://", "http://")) else None
    url = url or stage.queue_url(queue_name)
    # Ctrl-C, or SIGTERM (a stack stopping), ends the command quietly at the next poll: a
    # KeyboardInterrupt could land anywhere, even in the middle of the interpreter's own cleanup.
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    click.echo(f"following {queue_name} (Ctrl-C to stop)", err=True)
    shown = 0
    events = received(
        stage.client("sqs"),
        url,
        consume=True if stage.local else consume,
        wait_seconds=FOLLOW_POLL_SECONDS,
        stopping=stopping.is_set,
    )
    for event in events:
        click.echo(as_json_line(event) if as_json else readable(event))
        shown += 1
        if count is not None and shown >= count:
            break
    click.echo(f"{shown} notification(s) shown", err=True)


def _account_option(account: str | None) -> None:
    if account is not None and not ACCOUNT_ID.fullmatch(account):
        raise OpsError(f"--account {account!r} is not a Stripe account id (acct_…)")


@cli.command("sweep")
@click.option("--account", help="only the payments of this connected account (acct_…)")
@click.option(
    "--all", "every_open", is_flag=True, help="every open payment, not only those due now"
)
@click.option("--json", "as_json", is_flag=True, help="the run's report as JSON")
@on_stage
def sweep(stage: Stage, account: str | None, every_open: bool, as_json: bool) -> None:
    """Run the reconciliation sweep now: publish what waits in outboxes, then read Stripe
    again for the open payments due for a check (as the scheduled sweep does)."""
    _account_option(account)
    stage.bind("sweep_payments")
    from chalicelib import sweep_jobs, wiring
    from chalicelib.services.sweep import EVERY_OPEN

    due = wiring.payment_store().count_due(EVERY_OPEN if every_open else wiring.now())
    with click.progressbar(length=due, label="checking open payments", file=sys.stderr) as bar:
        report = sweep_jobs.sweep_now(
            account, every_open, on_payment=lambda payment_id, outcome: bar.update(1)
        )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        checked = ", ".join(f"{n} {what}" for what, n in report["checked"].items()) or "none"
        click.echo(f"payments checked: {checked}")
        click.echo(f"notifications published: {report['notifications_published']}")
        if not report["complete"]:
            click.echo(f"stopped early ({report['stopped_because']}): run it again", err=True)
    if not report["complete"]:
        sys.exit(1)


@cli.command("recover-events")
@click.option("--account", help="only this connected account (acct_…)")
@click.option(
    "--since",
    help="list again from this ISO 8601 time (e.g. 2026-12-01T00:00:00Z), not the watermark",
)
@click.option("--json", "as_json", is_flag=True, help="the run's report as JSON")
@on_stage
def recover_events(stage: Stage, account: str | None, since: str | None, as_json: bool) -> None:
    """Run missed-event recovery now: queue the events Stripe has for each account that were
    never queued, as the webhook would."""
    _account_option(account)
    from chalicelib import recovery_jobs

    try:
        recovery_jobs.parse_since(since)
    except ValueError as error:
        raise OpsError(f"--since: {error}") from None
    stage.bind("recover_account_events")
    from chalicelib import wiring
    from chalicelib.domain.recovery import is_recovered

    listings = wiring.account_directory().listings()
    accounts = 1 if account else sum(1 for _, status in listings if is_recovered(status))
    with click.progressbar(length=accounts, label="recovering accounts", file=sys.stderr) as bar:
        report = recovery_jobs.recover(account, since, on_account=lambda result: bar.update(1))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for result in report["accounts"]:
            click.echo(
                f"{result['account_id']}  {result['outcome']}  {len(result['queued'])} queued"
            )
        click.echo(f"events queued: {report['events_queued']}")
    if any(r["outcome"] in ("incomplete", "refused") for r in report["accounts"]):
        sys.exit(1)


@cli.command("snapstart-template")
@click.option("--stage", "stage_name", required=True, help="stage of .chalice/config.json")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="write it here (default: standard output)",
)
def snapstart_template(stage_name: str, output: Path | None) -> None:
    """The template for `chalice package --merge-template`: SnapStart and an alias on every
    function, and ReportBatchItemFailures on the SQS triggers (README, "SnapStart")."""
    from app import app
    from ops.snapstart import snapstart_template as build
    from ops.stage import chalice_config

    try:
        template = build(stage_name, app.routes, chalice_config())
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    text = json.dumps(template, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)


@cli.command("bundle")
@click.option(
    "--stage",
    "stage_name",
    help="stage of .chalice/config.json whose lambda_architecture to build for [default: the "
    "top-level one, shared by every stage]",
)
def bundle(stage_name: str | None) -> None:
    """Build vendor/, the libraries `chalice package` and `chalice deploy` ship: installed for
    the Lambda's platform, pruned of what is never imported, compiled for its Python."""
    from ops import bundle as bundling
    from ops.stage import chalice_config

    try:
        sizes = bundling.build(chalice_config(), stage_name)
    except bundling.BundleError as error:
        raise OpsError(str(error)) from None
    click.echo(
        f"vendor/: {sizes.installed / 1e6:.1f} MB installed, {sizes.pruned / 1e6:.1f} MB "
        f"pruned, {sizes.compiled / 1e6:.1f} MB with the .pyc of {sizes.files} modules"
    )
