"""Redis/Valkey client factory: one guarded client per process (deadlines + circuit breaker,
``claw_common.data.redis_client``), traced per command."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from claw_common.settings import get_settings

if TYPE_CHECKING:
    import redis

    from claw_common.data.redis_client import GuardedRedis


@lru_cache(maxsize=1)
def _traced_client_class() -> type[GuardedRedis]:
    """A guarded client that records an X-Ray subsegment per command (the command name only,
    never keys or values)."""
    from claw_common.data.redis_client import GuardedRedis
    from claw_common.observability import tracer

    class TracedRedis(GuardedRedis):
        def execute_command(self, *args: Any, **options: Any) -> Any:
            with tracer.provider.in_subsegment("## redis") as subsegment:
                subsegment.put_annotation("command", str(args[0]) if args else "")
                return super().execute_command(*args, **options)

    return TracedRedis


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """One client (with its connection pool and circuit breaker) per process, reused across warm
    invocations. Short deadlines: a cache that hangs is worse than a cache miss."""
    from claw_common.data.redis_client import guarded_redis

    settings = get_settings()
    return guarded_redis(
        settings.redis_url.get_secret_value(),
        settings.redis_timeout_s,
        client_class=_traced_client_class(),
        decode_responses=False,
    )


def redis_ping() -> bool:
    """True when the cache answers a PING."""
    import redis

    try:
        return bool(get_redis().ping())
    except (redis.RedisError, OSError):
        return False
