"""The one place that creates Powertools ``logger``, ``tracer`` and ``metrics``.

Service names come from ``POWERTOOLS_SERVICE_NAME`` (set per function in the template);
the metrics namespace is ``ClawAI`` everywhere.

Metric dimensions: metrics added with ``metrics.add_metric`` carry only ``service`` (so the
template's alarms and dashboard, which name ``service``, see them). A metric that needs
another dimension (route, model, reason, cache) goes through ``emit_metric``, which writes
its own EMF line, so extra dimensions never leak onto the plain metrics.
"""

from __future__ import annotations

import threading
import traceback
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "ClawAI"

logger = Logger(utc=True)
# No patch_all at init: it imports every library the X-Ray SDK knows (httpx, requests, sqlite3,
# psycopg...) on each cold start. PostgreSQL and Redis get subsegments of their own
# (claw_common.data); the AWS SDK and httpx (Zhipu) are patched when first used.
tracer = Tracer(auto_patch=False)
metrics = Metrics(namespace=NAMESPACE)

_patched: set[str] = set()
_patch_lock = threading.Lock()


def trace_calls_of(module: str) -> None:
    """Record X-Ray subsegments for the calls of ``module`` ("botocore", "httpx") from now on."""
    if module in _patched:
        return
    with _patch_lock:
        if module not in _patched:
            tracer.patch(modules=(module,))
            _patched.add(module)


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


__all__ = ["NAMESPACE", "MetricUnit", "emit_metric", "log_unhandled", "logger", "metrics", "trace_calls_of", "tracer"]
