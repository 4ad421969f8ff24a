"""Read runtime configuration from any function: ``get_config("ai.default_model")``.

Three levels, each cheaper than the next:

1. an in-process dict with a short TTL (``CONFIG_CACHE_TTL_S``, 5 s by default), so a warm
   Lambda container does not ask Redis on every request and still sees a change within
   seconds;
2. Redis/Valkey, which the config service updates *write-through* on every change. An entry
   carries the config's version and is only replaced by a newer one (one Lua call), so a
   reader that loaded an old row just before a write can never overwrite the new value;
3. PostgreSQL, the source of truth.

Sensitive values travel through the caches sealed (ciphertext + KMS-encrypted data key) and
are decrypted in the reading process only. A Redis outage never raises: the reader falls back
to the database. ``DependencyUnavailable`` means the database (or, for a sensitive key, KMS)
is unreachable.
"""

from __future__ import annotations

import json
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from claw_common.observability import logger

if TYPE_CHECKING:
    from redis.commands.core import Script

CACHE_PREFIX = "claw:config:entry:"
# Bounds how long a cache entry can be stale if a write could not reach Redis (outage).
REDIS_TTL_S = 60

# Replace the cached entry only when the incoming version is newer; keeps the TTL fresh.
_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

_local: dict[str, tuple[float, Any]] = {}
_local_lock = threading.Lock()


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError, OSError)


@lru_cache(maxsize=1)
def _set_if_newer_script() -> Script:
    from claw_common.data.cache import get_redis

    return get_redis().register_script(_SET_IF_NEWER)


def entry_from_row(row: dict[str, Any] | None) -> dict[str, Any]:
    """The cache entry of a ``configs`` row (or of an unset key): JSON-safe, never plaintext secrets."""
    from claw_common.config.envelope import Sealed

    if row is None:
        return {"v": 0, "exists": False}
    if row.get("deleted_at") is not None:
        return {"v": int(row["version"]), "exists": False}
    entry: dict[str, Any] = {"v": int(row["version"]), "exists": True, "sensitive": bool(row["is_sensitive"])}
    if row["is_sensitive"]:
        entry["sealed"] = Sealed(bytes(row["value_ciphertext"]), bytes(row["value_data_key"])).to_json()
    else:
        entry["value"] = row["value"]
    return entry


def _load_from_db(key: str) -> dict[str, Any]:
    import psycopg

    from claw_common.data import db

    with db.connection() as conn:
        try:
            row = conn.execute(
                """SELECT key, value, value_ciphertext, value_data_key, is_sensitive, version, deleted_at
                     FROM configs WHERE key = %s""",
                (key,),
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            # Before the config migration ran nothing is configured; callers use their defaults.
            conn.rollback()
            row = None
    return entry_from_row(row)


def _redis_get(key: str) -> dict[str, Any] | None:
    from claw_common.data.cache import get_redis

    try:
        raw = get_redis().hget(CACHE_PREFIX + key, "d")
    except _redis_errors() as exc:
        logger.warning("config cache unavailable; reading the database", extra={"error": type(exc).__name__})
        return None
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def publish_entry(key: str, entry: dict[str, Any]) -> None:
    """Write an entry to Redis if it is newer than the cached one (never raises)."""
    try:
        _set_if_newer_script()(
            keys=[CACHE_PREFIX + key], args=[int(entry["v"]), json.dumps(entry, separators=(",", ":")), REDIS_TTL_S]
        )
    except _redis_errors() as exc:
        logger.warning("config cache not updated", extra={"error": type(exc).__name__, "config_key": key})


def _decode(key: str, entry: dict[str, Any]) -> Any:
    from claw_common.config.envelope import Sealed, unseal

    if not entry.get("exists"):
        return None
    if entry.get("sensitive"):
        return json.loads(unseal(Sealed.from_json(entry["sealed"]), name=key))
    return entry.get("value")


def get_config(key: str) -> Any | None:
    """The JSON value of config ``key`` (decrypted if sensitive), or None when it is unset.

    Never raises because Redis is down; raises ``DependencyUnavailable`` when the database
    (or KMS, for a sensitive key) is unreachable. The value is this process's cached object,
    shared by every reader (no copy per read): treat it as read-only, copy before changing it.
    """
    from claw_common.settings import get_settings

    ttl = get_settings().config_cache_ttl_s
    now = time.monotonic()
    with _local_lock:
        hit = _local.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]

    entry = _redis_get(key)
    if entry is None:
        entry = _load_from_db(key)
        publish_entry(key, entry)
    value = _decode(key, entry)
    if ttl > 0:
        with _local_lock:
            _local[key] = (now + ttl, value)
    return value


def forget_local(key: str | None = None) -> None:
    """Drop this process's cached value of ``key`` (or of every key)."""
    with _local_lock:
        if key is None:
            _local.clear()
        else:
            _local.pop(key, None)


def drop_caches() -> int:
    """Drop every cached config entry in Redis and in this process; returns how many Redis entries went.

    Other processes keep their in-process values for at most ``CONFIG_CACHE_TTL_S``.
    """
    from claw_common.data.cache import get_redis

    forget_local()
    dropped = 0
    try:
        client = get_redis()
        batch: list[bytes] = []
        for name in client.scan_iter(match=CACHE_PREFIX + "*", count=500):
            batch.append(name)
            if len(batch) >= 500:
                dropped += int(client.delete(*batch))
                batch = []
        if batch:
            dropped += int(client.delete(*batch))
    except _redis_errors() as exc:
        logger.warning("config cache not dropped", extra={"error": type(exc).__name__})
    return dropped


def get_config_or(key: str, default: Any) -> Any:
    """``get_config(key)``, or ``default`` when the key is unset."""
    value = get_config(key)
    return default if value is None else value


__all__ = [
    "CACHE_PREFIX",
    "drop_caches",
    "entry_from_row",
    "forget_local",
    "get_config",
    "get_config_or",
    "publish_entry",
]
