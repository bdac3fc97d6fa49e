"""Operator commands: python -m ops <command> --stage <stage> ...

Each command reads the stage's settings from .chalice/config.json; variables set in the shell
win (AWS credentials and region, or STRIPE_API_BASE to aim at a stand-in).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import boto3

from chalicelib.adapters.secrets import SsmSecrets
from chalicelib.settings import Settings, SettingsError
from ops.stage import stage_environment
from ops.webhooks import provision_connect_endpoint


def _settings(stage: str) -> Settings:
    env = stage_environment(stage)
    env.update({k: v for k, v in os.environ.items() if k in env or k.startswith("STRIPE_")})
    return Settings.from_env(env)


def provision_webhook(args: argparse.Namespace) -> int:
    settings = _settings(args.stage)
    url = args.url or (
        f"{settings.public_base_url}/webhooks/stripe" if settings.public_base_url else None
    )
    if not url:
        print("error: give --url (the service's public /webhooks/stripe URL)", file=sys.stderr)
        return 2
    secrets = SsmSecrets(boto3.client("ssm"), settings.secrets_path, max_age_seconds=0)
    report = provision_connect_endpoint(settings, secrets, url)
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    webhook = commands.add_parser(
        "provision-webhook",
        help="create or update the platform's Connect webhook endpoint on Stripe "
        "and store its signing secret",
    )
    webhook.add_argument("--stage", required=True)
    webhook.add_argument("--url", help="default: PUBLIC_BASE_URL/webhooks/stripe")
    webhook.set_defaults(run=provision_webhook)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
