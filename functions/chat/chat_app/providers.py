"""Where chat gets its adapters: the LLM provider, the retriever and the answer cache.

:func:`default_deps` builds a :class:`ChatDeps` from the process's cached pieces; logic
functions take a ``deps`` argument so tests can pass their own (for instance a provider
pointed at the local Zhipu fake) without monkeypatching.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat_app.answer_cache import AnswerCache
from chat_app.rag import Retriever, get_retriever
from claw_common.cache import get_redis
from claw_common.llm import LLMProvider, get_llm_provider
from claw_common.settings import get_settings
from claw_common.zhipu_key import with_zhipu_key


@dataclass(frozen=True)
class ChatDeps:
    """The adapters chat logic uses."""

    provider: LLMProvider
    retriever: Retriever
    cache: AnswerCache


def get_provider() -> LLMProvider:
    """Zhipu when a key is configured (``ZHIPUAI_API_KEY`` or the secret), else the offline provider.

    ``get_llm_provider`` caches the provider per (key, base URL), so a warm Lambda reuses its
    SDK client; the secret is read once per process.
    """
    return get_llm_provider(with_zhipu_key(get_settings()))


def default_deps() -> ChatDeps:
    """The adapters of this process."""
    return ChatDeps(provider=get_provider(), retriever=get_retriever(), cache=AnswerCache(get_redis))
