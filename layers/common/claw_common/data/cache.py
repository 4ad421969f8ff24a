"""Redis/Valkey client factory."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from claw_common.settings import get_settings

if TYPE_CHECKING:
    import redis


@lru_cache(maxsize=1)
def _traced_client_class() -> type[redis.Redis]:
    """A ``redis.Redis`` that records an X-Ray subsegment per command (the command name only,
    never keys or values)."""
    import redis

    from claw_common.observability import tracer

    class TracedRedis(redis.Redis):
        def execute_command(self, *args: Any, **options: Any) -> Any:
            with tracer.provider.in_subsegment("## redis") as subsegment:
                subsegment.put_annotation("command", str(args[0]) if args else "")
                return super().execute_command(*args, **options)

    return TracedRedis


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """One client (with its connection pool) per process, reused across warm invocations.

    Short socket timeouts: a cache that hangs is worse than a cache miss.
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    settings = get_settings()
    return _traced_client_class().from_url(
        settings.redis_url.get_secret_value(),
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        # redis-py's default (10 retries with backoff) turns an outage into seconds of stall per
        # command; one immediate retry still heals a pooled connection the server closed.
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
        decode_responses=False,
    )


def redis_ping() -> bool:
    """True when the cache answers a PING."""
    import redis

    try:
        return bool(get_redis().ping())
    except (redis.RedisError, OSError):
        return False
