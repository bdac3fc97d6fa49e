"""Structured logs and metrics shared by every entry point (Powertools)."""

from __future__ import annotations

import logging
import os
import sys
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the time (Lambda's, or a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


# Not the Chalice app name: a Powertools logger of that name would share Chalice's handlers.
logger = Logger(service="stripe-bridge-service", stream=_CurrentStdout())  # type: ignore[arg-type]
# The stage's service name as the dimension: the alarms of dev and prod in one account stay apart.
metrics = Metrics(namespace="StripeBridge", service=os.environ.get("SERVICE_NAME", "stripe-bridge"))


# At DEBUG the stripe SDK logs every request's body and Stripe's answer (OAuth codes, tokens,
# customers' details) and botocore every AWS call's (the secrets read from SSM, the signing
# secrets written to DynamoDB). No stage needs that, whatever POWERTOOLS_LOG_LEVEL or Lambda's
# own log level says.
for _sdk in ("stripe", "botocore", "boto3", "urllib3"):
    logging.getLogger(_sdk).setLevel(logging.WARNING)

# Requests that record no metric (a read, say) are normal here, not a mistake to warn about.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
