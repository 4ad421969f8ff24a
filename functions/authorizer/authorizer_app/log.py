"""The authorizer's logger: Powertools' JSON log lines, written with the standard library.

Why not Powertools' ``Logger`` here (house style says one module creates ``logger``): importing
``aws_lambda_powertools`` runs its package ``__init__``, which loads Logger, Metrics and Tracer
and their dependencies (jmespath, typing_extensions, ...): 50-70 ms of the authorizer's cold
start, which runs before every request whose verdict API Gateway has not cached. The
authorizer writes two or three lines per invocation and needs none of Powertools' other
features, so it gets this small logger instead. The APIs keep ``claw_common.observability``.

A line has the keys and order of Powertools' ``LambdaPowertoolsFormatter`` with ``utc=True``,
so CloudWatch queries and the alarms' metric filters read both alike::

    {"level":"INFO","location":"lambda_handler:42","message":"allowed",
     "timestamp":"2026-11-30 04:43:56,520+0000","service":"authorizer","cold_start":true,
     "function_name":"...","function_memory_size":512,"function_arn":"...",
     "function_request_id":"...","correlation_id":"<API Gateway request id>",
     ...extra keys...,"xray_trace_id":"1-..."}

plus ``exception`` and ``exception_name`` for ``logger.exception``. Keys whose value is
``None`` are left out (as Powertools does). The level comes from ``AWS_LAMBDA_LOG_LEVEL``
(Lambda's advanced logging controls) else ``POWERTOOLS_LOG_LEVEL`` else INFO, as Powertools
reads them; ``POWERTOOLS_DEV=true`` indents the JSON. ``correlation_id`` is the request's
``requestContext.requestId`` (Powertools' ``correlation_paths.API_GATEWAY_REST``).

Nothing secret is logged by this module: only what callers pass (the authorizer passes ids,
reasons and timings, never a token, key or header value).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# Lambda's advanced logging control levels -> logging's (as Powertools maps them).
_LAMBDA_LEVELS = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}
# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_cold_start = True


def _level() -> str:
    lambda_level = _LAMBDA_LEVELS.get((os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper())
    return lambda_level or (os.environ.get("POWERTOOLS_LOG_LEVEL") or "INFO").upper()


def _take_cold_start() -> bool:
    """True at the first invocation of this execution environment (never with provisioned concurrency)."""
    global _cold_start
    first, _cold_start = _cold_start, False
    return first and os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "provisioned-concurrency"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: the standard keys, the logger's keys, then the record's extras."""

    def __init__(self, keys: dict[str, Any]) -> None:
        super().__init__()
        self.keys = keys
        self.indent = 4 if os.environ.get("POWERTOOLS_DEV", "").lower() in ("1", "true", "on") else None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # Powertools' default with utc=True: '2026-11-30 04:43:56,520+0000'.
        return time.strftime(f"%Y-%m-%d %H:%M:%S,{int(record.msecs):03d}%z", time.gmtime(record.created))

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": self.formatTime(record),
            **self.keys,
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRS)
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = self.formatException(record.exc_info)
            line["exception_name"] = record.exc_info[0].__name__
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "") if trace else None
        return json.dumps(
            {k: v for k, v in line.items() if v is not None},
            default=str,
            separators=(",", ":"),
            ensure_ascii=False,
            indent=self.indent,
        )


class JsonLogger:
    """A service's structured logger: ``info``/``warning``/``error``/``exception`` with ``extra=``,
    ``append_keys`` and ``inject_lambda_context`` as in Powertools' ``Logger``."""

    def __init__(self, service: str, stream: Any = None) -> None:
        self.service = service
        self._logger = logging.getLogger(f"claw.{service}.json")
        self._logger.propagate = False
        self._logger.setLevel(_level())
        self._formatter = JsonFormatter({"service": service})
        handler = logging.StreamHandler(stream or sys.stdout)
        handler.setFormatter(self._formatter)
        self._logger.handlers = [handler]

    @property
    def keys(self) -> dict[str, Any]:
        """The keys every line carries (service, the invocation's context, appended keys)."""
        return self._formatter.keys

    def append_keys(self, **keys: Any) -> None:
        if "service" in keys:
            self.service = str(keys["service"])
        self._formatter.keys.update(keys)

    def _clear_state(self) -> None:
        self._formatter.keys = {"service": self.service}

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger.debug(msg, *args, stacklevel=2, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger.info(msg, *args, stacklevel=2, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger.warning(msg, *args, stacklevel=2, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger.error(msg, *args, stacklevel=2, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._logger.exception(msg, *args, stacklevel=2, **kwargs)

    def inject_lambda_context(self, handler: F) -> F:
        """Decorate a handler: every line of the invocation carries its Lambda context and the
        API Gateway request id; keys appended during an invocation do not outlive it."""

        @functools.wraps(handler)
        def decorated(event: Any, context: Any) -> Any:
            self._clear_state()
            request_context = event.get("requestContext") if isinstance(event, dict) else None
            self.append_keys(
                cold_start=_take_cold_start(),
                function_name=getattr(context, "function_name", None),
                function_memory_size=getattr(context, "memory_limit_in_mb", None),
                function_arn=getattr(context, "invoked_function_arn", None),
                function_request_id=getattr(context, "aws_request_id", None),
                correlation_id=request_context.get("requestId") if isinstance(request_context, dict) else None,
            )
            return handler(event, context)

        return decorated  # type: ignore[return-value]
