"""Runtime values of chat, read from the config service with code defaults as fallback.

Every value is read through :func:`claw_common.config.reader.get_config` (cached in process
for a few seconds, so a change made with ``PUT /configs/{key}`` is seen within seconds). An
unset key, a value of the wrong shape, or an unreachable config store falls back to the
defaults below (logged as a warning): a bad config value must never take chat down.

* ``ai.default_model`` (string): default the ``DEFAULT_CHAT_MODEL`` setting (``glm-4-flash``).
* ``ai.pricing`` (``{"glm-4": {"input": 0.1, "output": 0.1}, "*": ...}``, CNY per 1k tokens):
  merged over :data:`claw_ai.pricing.DEFAULT_PRICES` (configured entries win).
* ``ai.quota.monthly_tokens`` (``{"free": 100000, "pro": 2000000, "enterprise": 20000000}``):
  default :data:`DEFAULT_MONTHLY_TOKENS`; a tier missing from the value keeps its default.
* ``chat.system_prompt.default`` (string): default :data:`DEFAULT_SYSTEM_PROMPT`.
* ``chat.answer_cache.ttl_s`` (integer seconds, 0 disables): default :data:`DEFAULT_ANSWER_CACHE_TTL_S`.
* ``chat.prompt_token_budget`` (integer tokens, at least 500): default :data:`DEFAULT_PROMPT_TOKEN_BUDGET`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claw_ai.pricing import DEFAULT_PRICES, ModelPrice, parse_price_table
from claw_common.errors import ClawError
from claw_common.observability import logger
from claw_common.settings import get_settings

DEFAULT_MONTHLY_TOKENS: Mapping[str, int] = {"free": 100_000, "pro": 2_000_000, "enterprise": 20_000_000}
"""Tokens (prompt + completion) a user of each tier may spend per calendar month (UTC)."""

DEFAULT_SYSTEM_PROMPT = (
    "You are CLAW.AI, a helpful assistant for a company's staff and customers. Answer in the language of the "
    "user's question, clearly and concisely. When sources are provided, answer only from them and cite them "
    "as [n]; if they do not contain the answer, say so instead of guessing.\n"
    "你是 CLAW.AI 智能助手。请使用用户提问的语言，清晰、简洁地回答。提供了资料时，只依据资料作答并以 [n] 标注引用；"
    "资料中没有答案时，请如实说明，不要猜测。"
)

DEFAULT_ANSWER_CACHE_TTL_S = 3600
DEFAULT_PROMPT_TOKEN_BUDGET = 8000
"""Tokens of a whole request (system prompt, sources, kept history, question) before the answer."""


def _read(key: str) -> Any | None:
    from claw_common.config.reader import get_config

    try:
        return get_config(key)
    except ClawError as exc:
        logger.warning("config unavailable; using the default", extra={"config_key": key, "problem": exc.slug})
        return None


def _bad(key: str, value: Any) -> None:
    logger.warning("config value has the wrong shape; using the default", extra={"config_key": key})


def default_model() -> str:
    """The model of new conversations and of answers given without one."""
    value = _read("ai.default_model")
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None:
        _bad("ai.default_model", value)
    return get_settings().default_chat_model


def price_table() -> dict[str, ModelPrice]:
    """Prices per model: the configured table over the code defaults (configured entries win)."""
    value = _read("ai.pricing")
    table = dict(DEFAULT_PRICES)
    if value is None:
        return table
    try:
        if not isinstance(value, Mapping):
            raise ValueError("not an object")
        table.update(parse_price_table(value))
    except ValueError:
        _bad("ai.pricing", value)
        return dict(DEFAULT_PRICES)
    return table


def monthly_token_quota(tier: str) -> int:
    """The monthly token quota of ``tier``."""
    fallback = DEFAULT_MONTHLY_TOKENS.get(tier, DEFAULT_MONTHLY_TOKENS["free"])
    value = _read("ai.quota.monthly_tokens")
    if value is None:
        return fallback
    entry = value.get(tier) if isinstance(value, Mapping) else None
    if entry is None and isinstance(value, Mapping):
        return fallback
    if isinstance(entry, int) and not isinstance(entry, bool) and entry >= 0:
        return entry
    _bad("ai.quota.monthly_tokens", value)
    return fallback


def default_system_prompt() -> str:
    """The system prompt of conversations that have none of their own."""
    value = _read("chat.system_prompt.default")
    if isinstance(value, str) and value.strip():
        return value
    if value is not None:
        _bad("chat.system_prompt.default", value)
    return DEFAULT_SYSTEM_PROMPT


def _positive_int(key: str, default: int, *, minimum: int) -> int:
    value = _read(key)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    _bad(key, value)
    return default


def answer_cache_ttl_s() -> int:
    """Seconds an answer stays in the answer cache (0 = no caching)."""
    return _positive_int("chat.answer_cache.ttl_s", DEFAULT_ANSWER_CACHE_TTL_S, minimum=0)


def prompt_token_budget() -> int:
    """Token budget of a whole request to the model; history is trimmed to fit it."""
    return _positive_int("chat.prompt_token_budget", DEFAULT_PROMPT_TOKEN_BUDGET, minimum=500)
