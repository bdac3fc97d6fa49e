"""Structured logs and metrics shared by every entry point (Powertools)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# Not the Chalice app name: a Powertools logger of that name would share Chalice's handlers.
logger = Logger(service="stripe-bridge-service")
metrics = Metrics(namespace="StripeBridge", service="stripe-bridge")


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
