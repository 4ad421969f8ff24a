"""The typed registry of known config keys (pure validation, no services)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from claw_common.config.schema import (
    KNOWN_KEYS,
    IpList,
    is_valid_key,
    parse_config,
    validate_value,
    value_errors,
)
from claw_common.errors import ValidationFailed


@pytest.mark.parametrize("key", ["ai.default_model", "a.b", "rate_limit.tiers", "x1.y_2.z"])
def test_namespaced_keys_are_valid(key: str) -> None:
    assert is_valid_key(key)


@pytest.mark.parametrize("key", ["nodot", "Ai.model", "1a.b", "a..b", "a.b.", "a.b-c", "a." + "b" * 127, ""])
def test_malformed_keys_are_rejected(key: str) -> None:
    assert not is_valid_key(key)


def test_every_key_named_by_the_spec_is_typed() -> None:
    assert {
        "ai.default_model",
        "ai.pricing",
        "ai.quota.monthly_tokens",
        "chat.system_prompt.default",
        "rate_limit.tiers",
        "rate_limit.ip",
        "rate_limit.routes",
        "rate_limit.allow_ips",
        "rate_limit.deny_ips",
        "ingest.limits",
    } <= set(KNOWN_KEYS)


def test_valid_values_parse_to_typed_objects() -> None:
    prices = parse_config("ai.pricing", {"glm-4": {"input": 0.1, "output": "0.2"}, "*": {"input": 0, "output": 0}})
    assert prices.root["glm-4"].output == Decimal("0.2")
    tiers = parse_config(
        "rate_limit.tiers",
        {"free": {"per_minute": 100}, "pro": {"per_minute": 500, "burst": 50}, "enterprise": {"per_minute": 2000}},
    )
    assert tiers.free.burst is None and tiers.pro.burst == 50
    ips = parse_config("rate_limit.allow_ips", ["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"])
    assert isinstance(ips, IpList) and len(ips.networks()) == 3
    assert parse_config("free.form", {"anything": [1, 2]}) == {"anything": [1, 2]}


def test_invalid_values_name_the_field_without_echoing_the_input() -> None:
    errors = value_errors("rate_limit.deny_ips", ["10.0.0.1", "secret-host-name"])
    assert errors and errors[0]["loc"] == ["body", "value"] and "secret-host-name" not in str(errors)
    errors = value_errors("ai.quota.monthly_tokens", {"free": 1, "pro": "many", "enterprise": 1})
    assert ["body", "value", "pro"] in [e["loc"] for e in errors]
    assert value_errors("ai.quota.monthly_tokens", {"free": 1, "pro": 2, "enterprise": 3, "vip": 4})
    assert value_errors("ai.pricing", {"gpt-4": {"input": 1, "output": 1}})
    assert value_errors("ai.pricing", {"glm-4": {"input": "NaN", "output": 1}})
    with pytest.raises(ValidationFailed) as exc:
        validate_value("ai.default_model", "")
    assert exc.value.status == 422 and exc.value.extra["errors"]


def test_free_values_are_size_limited() -> None:
    assert value_errors("notes.big", "x" * 60_000) == []
    assert value_errors("notes.big", "x" * 70_000)[0]["type"] == "too_long"
