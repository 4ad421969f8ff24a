"""Redis/Valkey clients with deadlines and a circuit breaker (standard library + redis only, so the
authorizer uses it too).

Deadlines: connect and command socket timeouts of ``timeout_s`` (``REDIS_TIMEOUT_S``, 0.3 s by
default; a healthy in-VPC command takes about a millisecond). A refused or reset connection
is retried once at once (it heals a pooled connection the server closed); a timeout is not
retried (a hung server would only cost the wait twice).

Circuit breaker: two consecutive failed commands open the circuit; for the next 5 s every
command fails at once with :class:`CircuitOpen` (a ``redis.ConnectionError``, so every caller's
existing outage path applies: the rate limiter fails open or closed, caches fall through to
the database). Then one trial command goes through and closes the circuit again when it
succeeds. See docs/reliability.md.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from claw_common.data.breaker import CircuitBreaker

FAILURE_THRESHOLD = 2
OPEN_S = 5.0

_log = logging.getLogger("claw.redis")


class CircuitOpen(redis.ConnectionError):
    """Redis is not asked: its circuit breaker is open after repeated failures."""


def _failed(exc: BaseException) -> bool:
    # The server did not answer (refused, reset, timed out). An error reply (NOSCRIPT, WRONGTYPE, OOM)
    # means it is alive.
    return isinstance(exc, redis.ConnectionError | redis.TimeoutError | OSError)


def _guarded(breaker: CircuitBreaker | None, call: Any, *args: Any, **kwargs: Any) -> Any:
    if breaker is not None and not breaker.allow():
        raise CircuitOpen(f"circuit open for {breaker.retry_after_s():.1f}s more")
    try:
        result = call(*args, **kwargs)
    except Exception as exc:
        if breaker is not None:
            if _failed(exc):
                breaker.record_failure()
            else:
                breaker.record_success()
        raise
    if breaker is not None:
        breaker.record_success()
    return result


class GuardedPipeline(Pipeline):
    """A pipeline whose ``execute`` goes through the client's breaker."""

    breaker: CircuitBreaker | None = None

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        return _guarded(self.breaker, super().execute, raise_on_error)  # type: ignore[no-any-return]


class GuardedRedis(redis.Redis):
    """``redis.Redis`` whose commands and pipelines go through ``self.breaker`` (set by :func:`guarded_redis`)."""

    breaker: CircuitBreaker | None = None

    def execute_command(self, *args: Any, **options: Any) -> Any:
        return _guarded(self.breaker, super().execute_command, *args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> GuardedPipeline:
        pipe = GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.breaker = self.breaker
        return pipe


def _log_open(breaker: CircuitBreaker) -> None:
    _log.warning(
        "redis circuit opened: commands fail at once for %.0f s (fallbacks apply)",
        breaker.reset_timeout_s,
        extra={"circuit": breaker.name},
    )


def guarded_redis(
    url: str,
    timeout_s: float,
    *,
    client_class: type[GuardedRedis] = GuardedRedis,
    breaker: CircuitBreaker | None = None,
    **kwargs: Any,
) -> GuardedRedis:
    """A client for ``url`` with short deadlines and a circuit breaker (see the module docstring)."""
    client = cast(
        GuardedRedis,
        client_class.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            health_check_interval=30,
            **kwargs,
        ),
    )
    client.breaker = breaker or CircuitBreaker(
        "redis", failure_threshold=FAILURE_THRESHOLD, reset_timeout_s=OPEN_S, on_open=_log_open
    )
    return client


__all__ = ["FAILURE_THRESHOLD", "OPEN_S", "CircuitOpen", "GuardedPipeline", "GuardedRedis", "guarded_redis"]
