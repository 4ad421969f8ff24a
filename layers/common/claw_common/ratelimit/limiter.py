"""Tiered token buckets in Redis/Valkey: every limit of a request checked in ONE atomic call.

A request may be limited by several buckets at once — the global bucket, the caller's user
bucket (sized by tier), the client IP's bucket and a route group's bucket (conversations,
messages, knowledge; register and login per IP). One Lua script, registered once and run with
EVALSHA, refills each bucket from the server's clock (``TIME``), then consumes one token from
all of them only if all of them allow: a request refused by one bucket costs nothing in the
others. Idle buckets expire (``PEXPIRE`` = time to refill completely), so Redis only holds
buckets that are not full.

Which buckets apply comes from ``claw_common.ratelimit.policy``; what a request gets (403, 429,
the outage fallback) from ``claw_common.ratelimit.admission``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from claw_common.ratelimit.policy import (
    DEFAULT_GLOBAL,
    DEFAULT_IP,
    DEFAULT_ROUTES,
    DEFAULT_TIERS,
    ROUTE_GROUPS,
    Bucket,
    LimitSpec,
    RateLimitPolicy,
    RouteGroup,
    is_unlimited_path,
    load_policy,
    policy_from_values,
    route_group_for,
    visitor_bucket,
)

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

# KEYS: the buckets. ARGV[1]: "1" consume / "0" peek; ARGV[2]: cost; then per bucket
# (rate in tokens per millisecond, burst). State per bucket: hash {t: tokens, ts: ms}.
# Returns {allowed, then per bucket: remaining (whole tokens), ms until full, ms until `cost`
# tokens are there (0 when they already are)}.
TOKEN_BUCKET_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local consume = ARGV[1] == '1'
local cost = tonumber(ARGV[2])
local n = #KEYS
local tokens = {}
local allowed = 1
for i = 1, n do
  local rate = tonumber(ARGV[1 + 2 * i])
  local burst = tonumber(ARGV[2 + 2 * i])
  local state = redis.call('HMGET', KEYS[i], 't', 'ts')
  local tk = tonumber(state[1])
  local ts = tonumber(state[2])
  if tk == nil or ts == nil then
    tk = burst
    ts = now
  end
  if now > ts then
    tk = tk + (now - ts) * rate
  end
  if tk > burst then
    tk = burst
  end
  tokens[i] = tk
  if tk < cost then
    allowed = 0
  end
end
local out = {allowed}
for i = 1, n do
  local rate = tonumber(ARGV[1 + 2 * i])
  local burst = tonumber(ARGV[2 + 2 * i])
  local tk = tokens[i]
  if consume and allowed == 1 then
    tk = tk - cost
    redis.call('HSET', KEYS[i], 't', tostring(tk), 'ts', tostring(now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((burst - tk) / rate) + 1000)
  end
  local retry = 0
  if tk < cost then
    retry = math.ceil((cost - tk) / rate)
  end
  out[#out + 1] = math.floor(tk)
  out[#out + 1] = math.ceil((burst - tk) / rate)
  out[#out + 1] = retry
end
return out
"""


class RateLimiterUnavailable(Exception):
    """Redis/Valkey did not answer the rate limit check (the caller decides: fail open or closed)."""


@dataclass(frozen=True)
class BucketState:
    """A bucket after a check: what the ``RateLimit-*`` headers and the status route show."""

    scope: str
    limit: int
    per_minute: float
    remaining: int
    reset_s: int
    retry_after_s: int


@dataclass(frozen=True)
class Decision:
    """The verdict on one request: allowed or not, and every bucket's state."""

    allowed: bool
    buckets: tuple[BucketState, ...]

    @property
    def retry_after_s(self) -> int:
        """Seconds until every bucket has a token again (0 when allowed)."""
        return max((b.retry_after_s for b in self.buckets), default=0)

    @property
    def most_restrictive(self) -> BucketState | None:
        """The bucket that refused (longest wait), or the one with the fewest tokens left."""
        if not self.buckets:
            return None
        if not self.allowed:
            return max(self.buckets, key=lambda b: (b.retry_after_s, -b.remaining))
        return min(self.buckets, key=lambda b: (b.remaining, b.limit))

    def headers(self) -> dict[str, str]:
        """``RateLimit-Limit/Remaining/Reset`` of the most restrictive bucket, plus ``Retry-After`` on refusal."""
        bucket = self.most_restrictive
        if bucket is None:
            return {}
        headers = {
            "RateLimit-Limit": str(bucket.limit),
            "RateLimit-Remaining": str(bucket.remaining),
            "RateLimit-Reset": str(bucket.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.retry_after_s))
        return headers


def _ceil_s(ms: int) -> int:
    return int(-(-int(ms) // 1000))


class RateLimiter:
    """Checks buckets with one Lua call. Takes its Redis client (tests inject their own server)."""

    def __init__(self, client: redis.Redis | None = None) -> None:
        self._client = client
        self._script: Script | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            from claw_common.data.cache import get_redis

            self._client = get_redis()
        return self._client

    def _registered(self) -> Script:
        # Registered once per limiter; redis-py runs it with EVALSHA and reloads it by itself
        # after NOSCRIPT (e.g. a Valkey restart emptied the script cache).
        if self._script is None:
            with self._lock:
                if self._script is None:
                    self._script = self.client.register_script(TOKEN_BUCKET_LUA)
        return self._script

    @contextmanager
    def using(self, client: redis.Redis) -> Iterator[RateLimiter]:
        """Point this limiter at another Redis for the block (the seam tests use to simulate an outage)."""
        with self._lock:
            previous = self._client
            self._client = client
        try:
            yield self
        finally:
            with self._lock:
                self._client = previous

    def check(self, buckets: list[Bucket], *, consume: bool = True, cost: int = 1) -> Decision:
        """Consume ``cost`` tokens from every bucket if all have them (``consume=False``: only look).

        Raises ``RateLimiterUnavailable`` when Redis does not answer.
        """
        import redis

        if not buckets:
            return Decision(True, ())
        args: list[Any] = ["1" if consume else "0", cost]
        for bucket in buckets:
            args.extend((repr(bucket.limit.tokens_per_ms), bucket.limit.capacity))
        client = self.client
        try:
            raw = self._registered()(keys=[b.key for b in buckets], args=args, client=client)
        except (redis.RedisError, OSError) as exc:
            raise RateLimiterUnavailable(type(exc).__name__) from exc
        states = []
        for i, bucket in enumerate(buckets):
            remaining, full_ms, retry_ms = (int(v) for v in raw[1 + 3 * i : 4 + 3 * i])
            states.append(
                BucketState(
                    scope=bucket.scope,
                    limit=bucket.limit.capacity,
                    per_minute=bucket.limit.per_minute,
                    remaining=max(0, remaining),
                    reset_s=_ceil_s(full_ms),
                    retry_after_s=_ceil_s(retry_ms),
                )
            )
        return Decision(bool(int(raw[0])), tuple(states))


@lru_cache(maxsize=1)
def get_rate_limiter() -> RateLimiter:
    """The process's limiter (on ``claw_common.data.cache.get_redis()``), reused across warm invocations."""
    return RateLimiter()


__all__ = [
    "DEFAULT_GLOBAL",
    "DEFAULT_IP",
    "DEFAULT_ROUTES",
    "DEFAULT_TIERS",
    "ROUTE_GROUPS",
    "Bucket",
    "BucketState",
    "Decision",
    "LimitSpec",
    "RateLimitPolicy",
    "RateLimiter",
    "RateLimiterUnavailable",
    "RouteGroup",
    "get_rate_limiter",
    "is_unlimited_path",
    "load_policy",
    "policy_from_values",
    "route_group_for",
    "visitor_bucket",
]
