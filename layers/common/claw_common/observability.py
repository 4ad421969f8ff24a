"""The one place that creates Powertools ``logger``, ``tracer`` and ``metrics``.

Service names come from ``POWERTOOLS_SERVICE_NAME`` (set per function in the template);
the metrics namespace is ``ClawAI`` everywhere.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "ClawAI"

logger = Logger(utc=True)
tracer = Tracer()
metrics = Metrics(namespace=NAMESPACE)

__all__ = ["NAMESPACE", "MetricUnit", "logger", "metrics", "tracer"]
