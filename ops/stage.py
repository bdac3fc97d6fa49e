"""A stage as an operator reaches it: its settings from .chalice/config.json, AWS from the shell.

Settings come from the stage's environment in the Chalice config; variables set in the shell
win for SERVICE_NAME and the like, and for STRIPE_* (to aim at a stand-in). AWS credentials and
region come from the shell as for any AWS tool. The local stage needs neither: it talks to the
local stack's moto server (`./dev up`) unless AWS_ENDPOINT_URL says otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import click
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from chalicelib.adapters.secrets import MissingSecret, SsmSecrets
from chalicelib.domain.errors import StripeRejected, StripeUnavailable
from chalicelib.settings import Settings, SettingsError

PROJECT_DIR = Path(__file__).resolve().parent.parent
LOCAL_STAGE = "local"
# Where local/stack.py serves moto (StackConfig.aws_port); tests/ops checks they agree.
LOCAL_AWS_ENDPOINT = "http://127.0.0.1:5005"
_LOCAL_REGION = "us-east-1"
# An operator waits for an answer: a few quick tries, not botocore's long default backoff.
_AWS_CONFIG = Config(connect_timeout=3, read_timeout=20, retries={"max_attempts": 3})
_MISSING_RESOURCE_CODES = {
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "ResourceNotFoundException",
    "ParameterNotFound",
}
_REFUSED_CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}


class OpsError(click.ClickException):
    """A stage that cannot be used as asked: said in one line, exit code 2, no traceback."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def chalice_config() -> dict[str, Any]:
    return json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())


def stage_names() -> list[str]:
    return sorted(chalice_config()["stages"])


def stage_environment(stage: str, function: str | None = None) -> dict[str, str]:
    """Top-level, then stage, then per-function variables, as Chalice layers them."""
    config = chalice_config()
    stage_config = config["stages"][stage]
    env = dict(config.get("environment_variables", {}))
    env.update(stage_config.get("environment_variables", {}))
    if function:
        for level in (config, stage_config):
            per_function = level.get("lambda_functions", {}).get(function, {})
            env.update(per_function.get("environment_variables", {}))
    return env


class Stage:
    """One stage's settings and AWS clients, and the way its failures read to an operator."""

    def __init__(self, name: str, shell: dict[str, str] | None = None) -> None:
        shell = dict(os.environ if shell is None else shell)
        known = stage_names()
        if name not in known:
            raise OpsError(f"unknown stage {name!r} (stages: {', '.join(known)})")
        self.name = name
        env = stage_environment(name)
        env.update({k: v for k, v in shell.items() if k in env or k.startswith("STRIPE_")})
        try:
            self.settings = Settings.from_env(env)
        except SettingsError as error:
            raise OpsError(f"stage {name}: {error}") from None
        self.local = name == LOCAL_STAGE
        self._shell = shell

    @property
    def endpoint_url(self) -> str | None:
        """Where AWS is reached when not at AWS itself."""
        if self._shell.get("AWS_ENDPOINT_URL"):
            return self._shell["AWS_ENDPOINT_URL"]
        return LOCAL_AWS_ENDPOINT if self.local else None

    @cached_property
    def _session(self) -> boto3.session.Session:
        if self.local and not (
            self._shell.get("AWS_ACCESS_KEY_ID") or self._shell.get("AWS_PROFILE")
        ):
            # moto takes any key; the local stack writes with these.
            return boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name=self._shell.get("AWS_REGION") or _LOCAL_REGION,
            )
        # Lambda's and many CI's variable, which botocore itself does not read.
        session = boto3.session.Session(region_name=self._shell.get("AWS_REGION") or None)
        if session.region_name is None:
            raise OpsError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's)")
        if session.get_credentials() is None:
            raise OpsError(
                "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            )
        return session

    def bind(self, function: str) -> None:
        """Point the service's own wiring at this stage, with the environment the function's
        Lambda gets there (`ops sweep` and `ops recover-events` run its code in this process)."""
        from chalicelib import wiring

        env = stage_environment(self.name, function)
        env.update({k: v for k, v in self._shell.items() if k in env or k.startswith("STRIPE_")})
        session = self._session  # says now if there are no credentials or region
        credentials = session.get_credentials()
        if credentials is not None and not (
            self._shell.get("AWS_ACCESS_KEY_ID") or self._shell.get("AWS_PROFILE")
        ):
            frozen = credentials.get_frozen_credentials()
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = (
                frozen.access_key,
                frozen.secret_key,
            )
        env["AWS_DEFAULT_REGION"] = self.region
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        os.environ.update(env)
        wiring.reset()

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url, config=_AWS_CONFIG)

    @property
    def region(self) -> str:
        return str(self._session.region_name)

    def secrets(self) -> SsmSecrets:
        return SsmSecrets(self.client("ssm"), self.settings.secrets_path, max_age_seconds=0)

    def queue_url(self, queue_name: str) -> str:
        try:
            answer = self.client("sqs").get_queue_url(QueueName=queue_name)
        except ClientError as error:
            if _code(error) in _MISSING_RESOURCE_CODES:
                raise self._not_deployed(f"queue {queue_name}") from None
            raise
        return str(answer["QueueUrl"])

    def _not_deployed(self, what: str) -> OpsError:
        return OpsError(
            f"stage {self.name} has no {what} in {self.region}: "
            f"is its stack deployed (ServiceName {self.settings.service_name})?"
        )

    @contextmanager
    def plain_errors(self) -> Iterator[None]:
        """Misconfiguration and unreachable services as one line each."""
        try:
            yield
        except (NoCredentialsError, PartialCredentialsError):
            raise OpsError(
                "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            ) from None
        except NoRegionError:
            raise OpsError("no AWS region: set AWS_REGION") from None
        except (EndpointConnectionError, ConnectTimeoutError):
            where = self.endpoint_url or f"AWS in {self.region}"
            hint = ": is the local stack running (./dev up)?" if self.local else ""
            raise OpsError(f"cannot reach {where}{hint}") from None
        except ClientError as error:
            code = _code(error)
            if code in _MISSING_RESOURCE_CODES:
                detail = error.response.get("Error", {}).get("Message", code)
                raise self._not_deployed(f"such resource ({detail})") from None
            if code in _REFUSED_CREDENTIAL_CODES:
                raise OpsError(f"AWS refused the shell's credentials ({code})") from None
            raise
        except MissingSecret as error:
            raise OpsError(f"stage {self.name}: {error}") from None
        except StripeUnavailable as error:
            where = self.settings.stripe_api_base or "Stripe"
            raise OpsError(f"cannot reach {where}: {_one_line(error)}") from None
        except StripeRejected as error:
            raise OpsError(f"Stripe refused: {_one_line(error)}") from None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
