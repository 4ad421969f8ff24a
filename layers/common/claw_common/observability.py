"""The one place that creates Powertools ``logger``, ``tracer`` and ``metrics``.

Service names come from ``POWERTOOLS_SERVICE_NAME`` (set per function in the template);
the metrics namespace is ``ClawAI`` everywhere.

Metric dimensions: metrics added with ``metrics.add_metric`` carry only ``service`` (so the
template's alarms and dashboard, which name ``service``, see them). A metric that needs
another dimension (route, model, reason, cache) goes through ``emit_metric``, which writes
its own EMF line, so extra dimensions never leak onto the plain metrics.
"""

from __future__ import annotations

import traceback
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "ClawAI"

logger = Logger(utc=True)
tracer = Tracer()
metrics = Metrics(namespace=NAMESPACE)


def emit_metric(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
    """One metric with extra dimensions (besides ``service``), flushed as its own EMF line."""
    defaults = {"service": metrics.service} if metrics.service else None
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions=defaults) as metric:
        for key, val in dimensions.items():
            metric.add_dimension(name=key, value=str(val)[:250] or "none")


def log_unhandled(message: str, exc: BaseException, **extra: Any) -> None:
    """ERROR log of an unexpected exception with its stack. For a database error only the SQLSTATE
    and the (shortened) primary message: PostgreSQL's DETAIL and CONTEXT quote the data that
    failed, which may be a user's JSON or text, and must not reach the logs."""
    diag = getattr(exc, "diag", None)
    if diag is None or not type(exc).__module__.startswith("psycopg"):
        logger.exception(message, extra=extra)
        return
    logger.error(
        message,
        extra={
            **extra,
            "error_type": type(exc).__name__,
            "sqlstate": getattr(exc, "sqlstate", None),
            "error": str(getattr(diag, "message_primary", "") or "")[:200],
            "stack": "".join(traceback.format_tb(exc.__traceback__))[-4000:],
        },
    )


__all__ = ["NAMESPACE", "MetricUnit", "emit_metric", "log_unhandled", "logger", "metrics", "tracer"]
