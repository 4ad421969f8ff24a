"""Cache namespaces that more than one function invalidates.

The chat function caches each user's conversation list pages; the knowledge function
changes them too (deleting a knowledge base unlinks it from conversations), so both name
the cache here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from claw_common.data.cache_aside import CacheAside

CONVERSATION_LISTS = "conversation_list"
CONVERSATION_LIST_TTL_S = 60


@lru_cache(maxsize=1)
def conversation_pages(model: Any = None) -> CacheAside[Any]:
    """Cache-aside of conversation list pages, one namespace per user: any change to one of
    the user's conversations (created, changed, deleted, a message added) drops them all."""
    return CacheAside(CONVERSATION_LISTS, ttl_s=CONVERSATION_LIST_TTL_S, model=model)


def conversations_changed(user_id: str) -> None:
    """Drop the user's cached conversation lists (call after the change is committed)."""
    # After the commit: a reader that loaded the old page before it cannot store it afterwards.
    conversation_pages().invalidate_namespace(f"user:{user_id}")
