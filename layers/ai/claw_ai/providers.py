"""Which language model and which embedder this deployment uses.

Zhipu (GLM, embedding-3) when a key is configured — ``ZHIPUAI_API_KEY`` locally, the
``ZHIPUAI_SECRET_ARN`` secret on AWS — else the offline providers. Each is built once per
process and cached, so a warm Lambda reuses its SDK client and its loaded model.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from claw_ai.embeddings import (
    OFFLINE_DIM,
    ZHIPU_DIMENSIONS,
    ZHIPU_MODEL,
    Embedder,
    EmbeddingDimensionMismatch,
    OfflineEmbedder,
)
from claw_ai.llm import LLMProvider, OfflineProvider
from claw_ai.zhipu.credentials import zhipu_api_key

if TYPE_CHECKING:
    from claw_common.settings import Settings


@lru_cache(maxsize=4)
def _provider(api_key: str | None, base_url: str | None) -> LLMProvider:
    if api_key:
        from claw_ai.zhipu.chat import ZhipuProvider

        return ZhipuProvider(api_key, base_url=base_url)
    return OfflineProvider()


def get_llm_provider(settings: Settings) -> LLMProvider:
    """The process's provider: Zhipu when a key is configured (``ZHIPUAI_API_KEY`` or the
    ``ZHIPUAI_SECRET_ARN`` secret), else offline.

    Cached per (key, base URL), so a warm Lambda reuses the SDK client and its connections.
    """
    return _provider(zhipu_api_key(settings), settings.zhipuai_base_url)


def build_embedder(api_key: str | None, base_url: str | None = None, embedding_dim: int = 0) -> Embedder:
    """The provider for a deployment: Zhipu with an API key, else offline USE.

    ``embedding_dim`` 0 means the provider's own (1024 Zhipu, 512 offline). Zhipu accepts any
    of ``ZHIPU_DIMENSIONS``; the offline model only 512. Anything else raises
    ``EmbeddingDimensionMismatch``, because the pgvector column's dimension is fixed.
    """
    if api_key:
        dimensions = embedding_dim or 1024
        if dimensions not in ZHIPU_DIMENSIONS:
            raise EmbeddingDimensionMismatch(
                f"EMBEDDING_DIM={embedding_dim} is not supported by {ZHIPU_MODEL} (use one of {ZHIPU_DIMENSIONS})"
            )
        from claw_ai.zhipu.embeddings import ZhipuEmbedder

        return ZhipuEmbedder(api_key, base_url=base_url, dimensions=dimensions)
    if embedding_dim not in (0, OFFLINE_DIM):
        raise EmbeddingDimensionMismatch(
            f"EMBEDDING_DIM={embedding_dim} but the offline embedder produces {OFFLINE_DIM}-dim vectors; "
            f"set EMBEDDING_DIM=0 or {OFFLINE_DIM}, or configure ZHIPUAI_API_KEY"
        )
    return OfflineEmbedder()


@lru_cache(maxsize=8)
def _cached_embedder(api_key: str | None, base_url: str | None, embedding_dim: int) -> Embedder:
    return build_embedder(api_key, base_url, embedding_dim)


def get_embedder(settings: Settings) -> Embedder:
    """The process's embedder for these settings (built once; call at cold start to fail fast).

    The Zhipu key comes from ``ZHIPUAI_API_KEY`` or the ``ZHIPUAI_SECRET_ARN`` secret (the
    same resolution as the LLM); settings objects are not hashable, so the cache is keyed by
    the values that matter.
    """
    return _cached_embedder(zhipu_api_key(settings), settings.zhipuai_base_url, settings.embedding_dim)


get_embedder.cache_clear = _cached_embedder.cache_clear  # type: ignore[attr-defined]
