"""Model prices and the cost of one call, in CNY.

The defaults are Zhipu's list prices per 1,000 tokens (open.bigmodel.cn pricing page,
2024 price cuts); Zhipu charges input and output alike for these models, but the table
keeps them apart because other models and providers do not. The live table comes from
config (``parse_price_table``) so a price change needs no deploy; this one is the fallback.

Money is :class:`~decimal.Decimal` end to end and rounded to 6 decimal places (a glm-4-air
call of a few hundred tokens costs fractions of a fen, which floats would blur).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Protocol

COST_QUANTUM = Decimal("0.000001")
"""Costs are rounded to 6 decimal places."""

WILDCARD = "*"
"""A table key whose price applies to models the table does not name."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """CNY per 1,000 tokens, for prompt (input) and completion (output) tokens."""

    input_per_1k: Decimal
    output_per_1k: Decimal


class TokenUsage(Protocol):
    """Anything with token counts, e.g. :class:`claw_ai.llm.Usage`."""

    prompt_tokens: int
    completion_tokens: int


def _price(input_per_1k: str, output_per_1k: str | None = None) -> ModelPrice:
    return ModelPrice(Decimal(input_per_1k), Decimal(output_per_1k or input_per_1k))


DEFAULT_PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        "glm-4": _price("0.1"),
        "glm-4-plus": _price("0.05"),
        "glm-4-air": _price("0.001"),
        "glm-4-airx": _price("0.01"),
        "glm-4-flash": _price("0"),
        "glm-4-long": _price("0.001"),
        "embedding-3": _price("0.0005", "0"),
        "offline-extractive": _price("0"),
    }
)
"""Read-only default table (CNY per 1k tokens)."""

UNKNOWN_MODEL_PRICE = DEFAULT_PRICES["glm-4"]
"""Price of a model neither the table nor its ``"*"`` entry covers: the dearest default (glm-4).

A model we do not know is charged as the most expensive one rather than as free, so a
typo or a new model in a conversation's settings can never slip past the token/cost quota.
"""


def price_for(model: str, table: Mapping[str, ModelPrice] | None = None) -> ModelPrice:
    """The price of ``model``: an exact entry, else the longest entry it extends with ``-`` (dated
    versions such as ``glm-4-flash-250414``), else the table's ``"*"``, else :data:`UNKNOWN_MODEL_PRICE`.
    """
    prices = DEFAULT_PRICES if table is None else table
    name = model.strip().lower()
    if name in prices:
        return prices[name]
    family = [key for key in prices if key != WILDCARD and name.startswith(key + "-")]
    if family:
        return prices[max(family, key=len)]
    return prices.get(WILDCARD, UNKNOWN_MODEL_PRICE)


def cost_for(model: str, usage: TokenUsage, table: Mapping[str, ModelPrice] | None = None) -> Decimal:
    """Cost in CNY of one call of ``model`` with ``usage``, rounded half-up to 6 decimal places."""
    price = price_for(model, table)
    raw = (
        Decimal(int(usage.prompt_tokens)) * price.input_per_1k
        + Decimal(int(usage.completion_tokens)) * price.output_per_1k
    ) / Decimal(1000)
    return raw.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def _decimal(value: Any, where: str) -> Decimal:
    try:
        # str() first: Decimal(0.1) would carry the float's binary error into the bill.
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{where}: {value!r} is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{where}: {value!r} must be a finite number >= 0")
    return amount


def parse_price_table(raw: Mapping[str, Any]) -> dict[str, ModelPrice]:
    """Build a price table from config JSON: ``{"glm-4": {"input": 0.1, "output": 0.1}, "*": ...}``.

    A bare number is used for both directions. Model names are lower-cased. Raises
    ``ValueError`` naming the offending entry, so a bad config value is rejected on write.
    """
    table: dict[str, ModelPrice] = {}
    for model, entry in raw.items():
        name = str(model).strip().lower()
        if isinstance(entry, Mapping):
            if "input" not in entry:
                raise ValueError(f"{model}: an 'input' price is required")
            inp = _decimal(entry["input"], f"{model}.input")
            out = _decimal(entry.get("output", entry["input"]), f"{model}.output")
        else:
            inp = out = _decimal(entry, str(model))
        table[name] = ModelPrice(inp, out)
    return table
