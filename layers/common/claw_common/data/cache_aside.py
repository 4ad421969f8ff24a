"""Cache-aside for hot reads (profiles, conversation lists, configs, AI answers) in Redis/Valkey.

    profiles = CacheAside("profile", ttl_s=300, model=UserOut)
    user = profiles.get_or_load(user_id, lambda: repo.get_user(user_id))
    ...                                   # after a write:
    profiles.invalidate(user_id)

    lists = CacheAside("conversation_list", ttl_s=60, model=ConversationPage)
    page = lists.get_or_load(f"{uid}:{cursor}:{limit}", load_page, namespace=f"user:{uid}")
    lists.invalidate_namespace(f"user:{uid}")   # every cached page of that user at once

What it does, and why:

- **Typed values**: with ``model`` (a pydantic model or any type a ``TypeAdapter`` takes) values
  are stored as JSON and validated on the way out; an entry that no longer validates (the
  model changed) is a miss. ``schema_version`` in the key lets a deploy change the shape.
- **Versions, not deletes**: an entry records the version tokens of its key and of its
  namespace as they were *before* the loader ran. A write sets a new random token, so every
  entry written earlier — including one a slow reader stores after the write — is stale. A
  whole family (a user's conversation lists) goes with one ``SET``.
- **Stampede protection**: on a miss only the caller that wins a short lock (``SET NX PX``)
  runs the loader; the others poll briefly for its value and, after ``lock_wait_s``, load
  themselves (a crashed loader never blocks anyone for longer than that).
- **Fail open**: a Redis error never fails the read; the loader runs and a warning is logged.
- **Metrics**: ``CacheHit`` / ``CacheMiss`` (service dimension, for the dashboard) and the same
  with a ``cache`` dimension per cache name; ``CacheErrors`` when Redis fails.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from claw_common.observability import MetricUnit, emit_metric, logger, metrics

if TYPE_CHECKING:
    import redis
    from redis.commands.core import Script

T = TypeVar("T")

KEY_PREFIX = "cache:"
_NO_VERSION = "0"

# Delete the lock only if we still hold it (it may have expired and been taken by another loader).
_RELEASE_LOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def hash_key(*parts: Any) -> str:
    """A short, stable key for long or free-text parts (e.g. a question and its context)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()[:40]


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError, OSError)


class _Unavailable(Exception):
    """Redis failed during a cache operation (internal: the public API fails open)."""


class CacheAside(Generic[T]):
    """A named cache-aside cache; one instance per kind of value, built once (module level or lru_cache)."""

    def __init__(
        self,
        name: str,
        *,
        ttl_s: float,
        model: Any = None,
        schema_version: int = 1,
        lock_ttl_s: float = 10.0,
        lock_wait_s: float = 2.0,
        poll_interval_s: float = 0.02,
        client: redis.Redis | None = None,
    ) -> None:
        """``name`` names keys and metrics; ``ttl_s`` bounds staleness if an invalidation is lost;
        ``model`` types the values (None = plain JSON); ``lock_ttl_s`` should exceed the loader's
        usual time; ``lock_wait_s`` is how long other callers wait for it before loading themselves;
        ``client`` injects a Redis client (default: ``claw_common.data.cache.get_redis()``)."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.name = name
        self.ttl_ms = int(ttl_s * 1000)
        # A version token must outlive every entry written under the previous token, or an
        # expired token ("0" again) could make a very old entry look current.
        self.version_ttl_ms = int(max(ttl_s * 2, ttl_s + 60) * 1000)
        self.lock_ttl_ms = max(1, int(lock_ttl_s * 1000))
        self.lock_wait_s = lock_wait_s
        self.poll_interval_s = poll_interval_s
        self._adapter: TypeAdapter[Any] | None = TypeAdapter(model) if model is not None else None
        self._prefix = f"{KEY_PREFIX}{name}:s{schema_version}:"
        self._client = client
        self._release: Script | None = None
        self._init_lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            from claw_common.data.cache import get_redis

            self._client = get_redis()
        return self._client

    def _keys(self, key: str, namespace: str | None) -> tuple[str, str, str | None, str]:
        """(value key, key-version key, namespace-version key, lock key)."""
        ns_key = f"{self._prefix}ns:{namespace}" if namespace is not None else None
        return f"{self._prefix}v:{key}", f"{self._prefix}kv:{key}", ns_key, f"{self._prefix}lock:{key}"

    def _metric(self, name: str) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        emit_metric(name, MetricUnit.Count, 1, cache=self.name)

    def _fail_open(self, operation: str, exc: BaseException) -> None:
        metrics.add_metric(name="CacheErrors", unit=MetricUnit.Count, value=1)
        logger.warning(
            "cache unavailable; reading through", extra={"cache": self.name, "operation": operation, "error": str(exc)}
        )

    def _encode(self, value: Any, versions: tuple[str, str]) -> str:
        data = None if value is None else (self._adapter.dump_python(value, mode="json") if self._adapter else value)
        return json.dumps({"k": versions[0], "n": versions[1], "d": data}, ensure_ascii=False, separators=(",", ":"))

    def _decode(self, raw: bytes | str) -> Any:
        envelope = json.loads(raw)
        data = envelope["d"]
        if data is None or self._adapter is None:
            return data
        return self._adapter.validate_python(data)

    def _read(self, key: str, namespace: str | None) -> tuple[bool, Any, tuple[str, str], bool]:
        """(hit, value, current versions, lock held by someone) in one MGET."""
        value_key, kv_key, ns_key, lock_key = self._keys(key, namespace)
        names = [value_key, kv_key, lock_key] + ([ns_key] if ns_key else [])
        try:
            found = self.client.mget(names)
        except _redis_errors() as exc:
            raise _Unavailable(type(exc).__name__) from exc
        raw, kv, lock = found[0], found[1], found[2]
        nv = found[3] if ns_key else None
        versions = (_text(kv) or _NO_VERSION, _text(nv) or _NO_VERSION)
        if raw is None:
            return False, None, versions, lock is not None
        try:
            envelope = json.loads(raw)
            if (envelope.get("k"), envelope.get("n")) != versions:
                return False, None, versions, lock is not None
            return True, self._decode(raw), versions, lock is not None
        except (ValueError, KeyError, TypeError, ValidationError):
            # An entry from an older shape of the value: a miss, overwritten by the next load.
            logger.info("cache entry unreadable; reloading", extra={"cache": self.name})
            return False, None, versions, lock is not None

    def _store(self, key: str, value: Any, versions: tuple[str, str]) -> None:
        value_key = self._keys(key, None)[0]
        try:
            self.client.set(value_key, self._encode(value, versions), px=self.ttl_ms)
        except _redis_errors() as exc:
            self._fail_open("store", exc)

    def _try_lock(self, lock_key: str, token: str) -> bool:
        try:
            return bool(self.client.set(lock_key, token, nx=True, px=self.lock_ttl_ms))
        except _redis_errors() as exc:
            raise _Unavailable(type(exc).__name__) from exc

    def _unlock(self, lock_key: str, token: str) -> None:
        try:
            if self._release is None:
                with self._init_lock:
                    if self._release is None:
                        self._release = self.client.register_script(_RELEASE_LOCK_LUA)
            self._release(keys=[lock_key], args=[token], client=self.client)
        except _redis_errors() as exc:
            # The lock expires by itself (PX); waiters load after lock_wait_s at worst.
            self._fail_open("unlock", exc)

    # ------------------------------------------------------------------ public API
    def get_or_load(self, key: str, loader: Callable[[], T], *, namespace: str | None = None) -> T:
        """The cached value of ``key``, or ``loader()``'s result (then cached for ``ttl_s``).

        ``namespace`` puts the key in a family that ``invalidate_namespace`` drops at once.
        Exceptions of ``loader`` propagate and nothing is cached. Never raises because Redis
        is down.
        """
        try:
            hit, value, versions, _locked = self._read(key, namespace)
        except _Unavailable as exc:
            self._fail_open("read", exc)
            return loader()
        if hit:
            self._metric("CacheHit")
            return value  # type: ignore[no-any-return]
        self._metric("CacheMiss")

        lock_key = self._keys(key, namespace)[3]
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.lock_wait_s
        try:
            while True:
                if self._try_lock(lock_key, token):
                    try:
                        # Re-read: the previous holder may have stored the value just now.
                        hit, value, versions, _locked = self._read(key, namespace)
                        if hit:
                            return value  # type: ignore[no-any-return]
                        value = loader()
                        self._store(key, value, versions)
                        return value
                    finally:
                        self._unlock(lock_key, token)
                if time.monotonic() >= deadline:
                    break
                time.sleep(self.poll_interval_s)
                hit, value, versions, _locked = self._read(key, namespace)
                if hit:
                    return value  # type: ignore[no-any-return]
        except _Unavailable as exc:
            self._fail_open("lock", exc)
            return loader()
        # The loader holding the lock is slow or gone: load ourselves rather than wait longer.
        logger.info("cache lock wait timed out; loading without the lock", extra={"cache": self.name})
        value = loader()
        self._store(key, value, versions)
        return value

    def put(self, key: str, value: T, *, namespace: str | None = None) -> None:
        """Write ``value`` for ``key`` now (write-through after a change the caller just made)."""
        try:
            _hit, _old, versions, _locked = self._read(key, namespace)
        except _Unavailable as exc:
            self._fail_open("put", exc)
            return
        self._store(key, value, versions)

    def invalidate(self, key: str) -> None:
        """Make the cached value of ``key`` stale (in every namespace); call it after writing the data."""
        value_key, kv_key, _ns, _lock = self._keys(key, None)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(kv_key, uuid.uuid4().hex, px=self.version_ttl_ms)
            pipe.delete(value_key)
            pipe.execute()
        except _redis_errors() as exc:
            # Bounded by ttl_s: the entry expires on its own.
            self._fail_open("invalidate", exc)

    def invalidate_namespace(self, namespace: str) -> None:
        """Make every value cached under ``namespace`` stale at once (one ``SET`` of a new version token)."""
        ns_key = self._keys("", namespace)[2]
        try:
            self.client.set(ns_key, uuid.uuid4().hex, px=self.version_ttl_ms)  # type: ignore[arg-type]
        except _redis_errors() as exc:
            self._fail_open("invalidate_namespace", exc)


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


__all__ = ["CacheAside", "hash_key"]
