"""A cache of vectors in front of any embedder: repeated text is embedded once.

``CachedEmbedder`` wraps an ``Embedder`` so re-ingested documents and repeated questions cost
no model call; the cache is injected (``RedisVectorCache`` in Lambda, ``InMemoryVectorCache``
in tests). Vectors are stored as float32 bytes (``vector_bytes``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from claw_ai.embeddings import Embedder, vector_bytes, vector_from_bytes
from claw_common.errors import DependencyUnavailable

if TYPE_CHECKING:
    from claw_ai.embeddings import EmbeddingVector

__all__ = ["CachedEmbedder", "InMemoryVectorCache", "RedisVectorCache", "VectorCache"]

log = logging.getLogger(__name__)


class VectorCache(Protocol):
    """Stores vectors as float32 bytes under opaque keys."""

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    def set_many(self, mapping: Mapping[str, bytes], ttl_s: int) -> None: ...


class InMemoryVectorCache:
    """A process-local ``VectorCache`` for tests and local runs (expiry honoured, no size bound)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[bytes, float]] = {}
        self._clock = clock
        self.gets = 0
        self.hits = 0

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        out: list[bytes | None] = []
        for key in keys:
            self.gets += 1
            entry = self._data.get(key)
            if entry is not None and entry[1] > now:
                self.hits += 1
                out.append(entry[0])
            else:
                out.append(None)
        return out

    def set_many(self, mapping: Mapping[str, bytes], ttl_s: int) -> None:
        expires = self._clock() + ttl_s
        for key, value in mapping.items():
            self._data[key] = (value, expires)


class RedisVectorCache:
    """``VectorCache`` on Redis/Valkey: one MGET per lookup, one pipelined SET EX per write batch."""

    def __init__(self, redis_client: Any, ttl_s: int = 7 * 86400, *, prefix: str = "emb:v1:") -> None:
        self._redis = redis_client
        self.ttl_s = ttl_s
        self._prefix = prefix

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Cached values (``None`` for a miss); raises ``DependencyUnavailable`` if Redis fails."""
        if not keys:
            return []
        from redis.exceptions import RedisError

        try:
            values = self._redis.mget([self._prefix + k for k in keys])
        except RedisError as exc:
            raise DependencyUnavailable("embedding cache is unavailable") from exc
        return [v if isinstance(v, bytes) else None for v in values]

    def set_many(self, mapping: Mapping[str, bytes], ttl_s: int | None = None) -> None:
        """Store values with an expiry; raises ``DependencyUnavailable`` if Redis fails."""
        if not mapping:
            return
        from redis.exceptions import RedisError

        ttl = int(ttl_s or self.ttl_s)
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, value in mapping.items():
                pipe.set(self._prefix + key, value, ex=ttl)
            pipe.execute()
        except RedisError as exc:
            raise DependencyUnavailable("embedding cache is unavailable") from exc


class CachedEmbedder:
    """Embeds each distinct text once: a cache lookup first, the inner embedder for misses only.

    The key is ``sha256(model name, dim, text)``, so changing model or dimension never serves
    stale vectors. A cache outage (``DependencyUnavailable``) degrades to embedding everything:
    the cache is an optimisation, never a reason to fail an ingest or a search.
    """

    def __init__(self, inner: Embedder, cache: VectorCache, *, ttl_s: int = 7 * 86400) -> None:
        self.inner = inner
        self.cache = cache
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def key(self, text: str) -> str:
        """The cache key of one text for this model and dimension."""
        material = f"{self.inner.name}\x00{self.inner.dim}\x00{text}".encode()
        return hashlib.sha256(material).hexdigest()

    def embed(self, texts: Sequence[str]) -> list[EmbeddingVector]:
        """Vectors for texts; repeated texts (in this call or cached before) are embedded once."""
        if not texts:
            return []
        keys = [self.key(t) for t in texts]
        unique = list(dict.fromkeys(keys))
        try:
            cached = self.cache.get_many(unique)
        except DependencyUnavailable:
            log.warning("embedding cache unavailable; embedding without it")
            cached = [None] * len(unique)
        found: dict[str, EmbeddingVector] = {}
        expected_bytes = self.inner.dim * 4
        for key, raw in zip(unique, cached, strict=True):
            if raw is not None and len(raw) == expected_bytes:
                found[key] = vector_from_bytes(raw)
        text_of = dict(zip(keys, texts, strict=True))
        missing = [k for k in unique if k not in found]
        self.hits += len(unique) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = self.inner.embed([text_of[k] for k in missing])
            fresh = dict(zip(missing, vectors, strict=True))
            found.update(fresh)
            try:
                self.cache.set_many({k: vector_bytes(v) for k, v in fresh.items()}, self.ttl_s)
            except DependencyUnavailable:
                log.warning("embedding cache unavailable; vectors not cached")
        return [found[k] for k in keys]

    def embed_query(self, text: str) -> EmbeddingVector:
        """Embed one query through the cache (repeated questions are common)."""
        return self.embed([text])[0]
