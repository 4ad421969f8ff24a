"""Zhipu ``embedding-3`` through the official SDK, with the shared retry policy.

Requests carry at most 64 inputs. What is retried, and what each failure becomes, is the
same as for chat (:mod:`claw_ai.zhipu.errors`, :mod:`claw_ai.zhipu.retry`); a batch gets
``deadline_s`` in all (ingest passes what is left of its invocation).

No numpy needed: a function deployed without the offline layer gets ``pgvector.Vector``
values (:func:`claw_ai.embeddings.unit_vectors`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from claw_ai.embeddings import ZHIPU_DIMENSIONS, ZHIPU_MAX_BATCH, ZHIPU_MODEL, EmbeddingDimensionMismatch, unit_vectors
from claw_ai.zhipu.errors import Failure, classify, transport_errors
from claw_ai.zhipu.retry import RetryPolicy, sdk_client
from claw_common.errors import UpstreamError

if TYPE_CHECKING:
    from claw_ai.embeddings import EmbeddingVector


class ZhipuEmbedder:
    """Zhipu ``embedding-3``: unit-length float32 vectors of ``dimensions`` values."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        dimensions: int = 1024,
        *,
        model: str = ZHIPU_MODEL,
        timeout_s: float = 20.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        deadline_s: float = 60.0,
        batch_size: int = ZHIPU_MAX_BATCH,
        sleep: Callable[[float], None] = time.sleep,
        client: Any = None,
    ) -> None:
        if dimensions not in ZHIPU_DIMENSIONS:
            raise EmbeddingDimensionMismatch(f"{model} supports dimensions {ZHIPU_DIMENSIONS}, not {dimensions}")
        if not 1 <= batch_size <= ZHIPU_MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {ZHIPU_MAX_BATCH}")
        self.name = model
        self.dim = dimensions
        self._api_key = api_key
        self._base_url = base_url
        self.deadline_s = deadline_s
        self.batch_size = batch_size
        self.policy = RetryPolicy(
            max_retries=max_retries,
            timeout_s=timeout_s,
            backoff_base_s=backoff_s,
            backoff_max_s=max(backoff_s, 8.0),
            rng=random.Random(),  # noqa: S311 - jitter, not cryptography
            sleep=sleep,
        )
        self._client = client
        self._client_lock = threading.Lock()

    def _sdk(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = sdk_client(self._api_key, self._base_url, self.policy.timeout_s)
        return self._client

    def _classify(self, exc: BaseException) -> Failure:
        failure = classify(exc, lambda text: text.replace(self._api_key, "***"))
        if failure.credentials:
            from claw_ai.zhipu.credentials import zhipu_key_rejected

            zhipu_key_rejected(self._api_key)  # a rotated key: the next call reads the secret again
        return failure

    def embed(self, texts: Sequence[str]) -> list[EmbeddingVector]:
        """Embed texts, ``batch_size`` per request."""
        for text in texts:
            if not text or not text.strip():
                # The API rejects empty input with a 400; this is a caller bug, not an upstream failure.
                raise ValueError("cannot embed an empty text")
        out: list[EmbeddingVector] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self._embed_batch(list(texts[start : start + self.batch_size])))
        return out

    def embed_query(self, text: str) -> EmbeddingVector:
        """Embed one query."""
        return self.embed([text])[0]

    def _embed_batch(self, batch: list[str]) -> list[EmbeddingVector]:
        deadline = time.monotonic() + self.deadline_s
        errors = transport_errors()
        try:
            for attempt in self.policy.attempts(deadline, self._classify, errors, what="embedding"):
                with attempt:
                    timeout = self.policy.attempt_timeout(deadline)
                    response = self._sdk().embeddings.create(
                        model=self.name, input=batch, dimensions=self.dim, timeout=timeout
                    )
        except errors as exc:
            raise self.policy.give_up(self._classify(exc)) from exc
        return self._vectors(response, len(batch))

    def _vectors(self, response: Any, expected: int) -> list[EmbeddingVector]:
        data = sorted(response.data, key=lambda item: item.index if item.index is not None else 0)
        if len(data) != expected:
            raise UpstreamError(f"{self.name} returned {len(data)} vectors for {expected} inputs")
        rows = [item.embedding for item in data]
        wrong = next((len(row) for row in rows if len(row) != self.dim), None)
        if wrong is not None:
            raise UpstreamError(f"{self.name} returned {wrong}-dim vectors, expected {self.dim}")
        return unit_vectors(rows)
