"""Cost of a call from the price table (CNY, Decimal, 6 places)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from claw_ai.messages import Usage
from claw_ai.pricing import (
    DEFAULT_PRICES,
    UNKNOWN_MODEL_PRICE,
    ModelPrice,
    cost_for,
    parse_price_table,
    price_for,
)


def test_cost_is_prompt_and_completion_at_their_prices_per_1k() -> None:
    # Given 1000 prompt and 500 completion tokens on glm-4 (0.1 CNY per 1k each way)
    usage = Usage.of(1000, 500)

    # When the cost is computed
    cost = cost_for("glm-4", usage)

    # Then it is 0.15 CNY with exactly six decimal places
    assert cost == Decimal("0.15")
    assert cost.as_tuple().exponent == -6


def test_input_and_output_prices_apply_separately() -> None:
    table = {"m": ModelPrice(Decimal("1"), Decimal("3"))}
    assert cost_for("m", Usage.of(1000, 1000), table) == Decimal("4.000000")
    assert cost_for("m", Usage.of(0, 2000), table) == Decimal("6.000000")


@pytest.mark.parametrize("model", ["glm-4-flash", "offline-extractive", "GLM-4-Flash", "glm-4-flash-250414"])
def test_free_models_cost_nothing(model: str) -> None:
    assert cost_for(model, Usage.of(123456, 7890)) == Decimal("0")


def test_every_named_model_has_a_default_price() -> None:
    for model in ("glm-4", "glm-4-plus", "glm-4-air", "glm-4-airx", "glm-4-flash", "glm-4-long", "embedding-3"):
        assert model in DEFAULT_PRICES
    assert DEFAULT_PRICES["offline-extractive"] == ModelPrice(Decimal(0), Decimal(0))


def test_dated_versions_use_their_family_price_and_the_longest_family_wins() -> None:
    assert price_for("glm-4-airx-0606") == DEFAULT_PRICES["glm-4-airx"]
    assert price_for("glm-4-air-250414") == DEFAULT_PRICES["glm-4-air"]
    assert price_for("glm-4-0520") == DEFAULT_PRICES["glm-4"]
    assert DEFAULT_PRICES["glm-4-airx"] != DEFAULT_PRICES["glm-4-air"]


def test_unknown_model_is_charged_at_the_dearest_default_not_free() -> None:
    assert price_for("some-new-model") == UNKNOWN_MODEL_PRICE == DEFAULT_PRICES["glm-4"]
    assert cost_for("some-new-model", Usage.of(1000, 0)) == Decimal("0.1")


def test_a_table_wildcard_prices_unknown_models() -> None:
    table = parse_price_table({"glm-4": 0.1, "*": {"input": "0.02", "output": "0.03"}})
    assert cost_for("mystery", Usage.of(1000, 1000), table) == Decimal("0.05")


def test_tiny_costs_round_half_up_at_the_sixth_place() -> None:
    # 1 token of embedding-3 costs 0.0000005 CNY: half a millionth rounds up, not away to zero.
    assert cost_for("embedding-3", Usage.of(1, 0)) == Decimal("0.000001")
    assert cost_for("glm-4-air", Usage.of(1, 0)) == Decimal("0.000001")


def test_parse_price_table_from_config_json_keeps_decimal_exact() -> None:
    table = parse_price_table({"GLM-4": {"input": 0.1, "output": 0.2}, "glm-4-air": 0.001})
    assert table["glm-4"] == ModelPrice(Decimal("0.1"), Decimal("0.2"))
    assert table["glm-4-air"] == ModelPrice(Decimal("0.001"), Decimal("0.001"))
    # 3 x 0.1 in floats is 0.30000000000000004; the table must not carry that into money.
    assert cost_for("glm-4", Usage.of(3000, 0), table) == Decimal("0.3")


@pytest.mark.parametrize("bad", [-1, "abc", float("nan"), None, {"output": 1}, [1]])
def test_parse_price_table_rejects_bad_prices_naming_the_model(bad: object) -> None:
    with pytest.raises(ValueError, match="glm-4"):
        parse_price_table({"glm-4": bad})
