"""Structured logs and metrics shared by every entry point (Powertools)."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# Not the Chalice app name: a Powertools logger of that name would share Chalice's handlers.
logger = Logger(service="stripe-bridge-service")
metrics = Metrics(namespace="StripeBridge", service="stripe-bridge")


# Requests that record no metric (a read, say) are normal here, not a mistake to warn about.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
