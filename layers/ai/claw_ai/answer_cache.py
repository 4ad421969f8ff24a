"""The answer cache: an identical request to the model is answered from Redis.

The key is a hash of the owner, the requested model and the exact messages the model would
receive: the system prompt with the fenced source passages, the kept history and the
question. History is part of the key on purpose: a follow-up such as "and the second one?"
means something else in another conversation, so only a request the model would see
word for word the same is reused. Changed documents change the passages, hence the key.
Entries are per user (never shared between tenants) and expire after
``chat.answer_cache.ttl_s`` seconds.

Redis is an optimisation here: any Redis failure is a miss (or a skipped write), logged as
a warning, never an error for the user.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from claw_ai.messages import ChatMessage
from claw_common.observability import logger

KEY_PREFIX = "claw:chat:answer:v1:"


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """What the cache keeps of an answer: its text and the model that wrote it."""

    content: str
    model: str


def cache_key(owner_id: str, model: str, messages: Sequence[ChatMessage]) -> str:
    """The Redis key of a request (sha256 of its canonical JSON)."""
    canonical = json.dumps(
        {"owner": owner_id, "model": model, "messages": [m.to_dict() for m in messages]},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return KEY_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


class AnswerCache:
    """Redis-backed answer cache that never raises."""

    def __init__(self, client_factory: Any) -> None:
        # A factory, not a client: the client is created on first use (import of redis is lazy).
        self._client_factory = client_factory

    def _errors(self) -> tuple[type[BaseException], ...]:
        import redis

        return (redis.RedisError, OSError)

    def get(self, key: str) -> CachedAnswer | None:
        """The cached answer, or None on a miss, a bad entry or a Redis failure."""
        try:
            raw = self._client_factory().get(key)
        except self._errors() as exc:
            logger.warning("answer cache unavailable; treated as a miss", extra={"error": type(exc).__name__})
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return CachedAnswer(content=str(data["content"]), model=str(data["model"]))
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, answer: CachedAnswer, ttl_s: int) -> None:
        """Keep ``answer`` for ``ttl_s`` seconds (nothing when ``ttl_s`` is 0 or Redis fails)."""
        if ttl_s <= 0:
            return
        payload = json.dumps({"content": answer.content, "model": answer.model}, ensure_ascii=False)
        try:
            self._client_factory().set(key, payload.encode(), ex=ttl_s)
        except self._errors() as exc:
            logger.warning("answer cache not written", extra={"error": type(exc).__name__})
