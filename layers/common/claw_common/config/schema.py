"""Typed config keys: the registry of models that known keys must satisfy.

The config service validates every write of a known key against its model here (422 with
field errors otherwise); other functions may use :func:`parse_config` / :func:`read_typed`
to get a typed object instead of raw JSON. Unknown keys hold free JSON up to
:data:`MAX_FREE_VALUE_BYTES`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from claw_common.errors import ValidationFailed

KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"
"""A namespaced key: ``namespace.name[.more]``, lower case, digits and underscores."""
KEY_MAX_LENGTH = 128
MAX_FREE_VALUE_BYTES = 64 * 1024
"""Size limit of any value, as compact JSON (known keys are much smaller)."""

MODEL_NAME_PATTERN = r"^(glm|chatglm|charglm|codegeex|emohaa|cogview|embedding|offline)-[a-z0-9][a-z0-9._-]{0,62}$"
"""Model names the platform knows how to call: Zhipu's families and the offline provider."""

_KEY_RE = re.compile(KEY_PATTERN)

ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN, max_length=64)]
NonNegativeInt = Annotated[int, Field(ge=0, le=10**12, strict=True)]
PositiveInt = Annotated[int, Field(ge=1, le=10**9, strict=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelPrice(_Strict):
    """Price of one model per 1,000 tokens (the currency of the price table)."""

    input: Decimal = Field(ge=0, allow_inf_nan=False, description="Price per 1k prompt tokens.")
    output: Decimal = Field(ge=0, allow_inf_nan=False, description="Price per 1k completion tokens.")


class PriceTable(RootModel[dict[str, ModelPrice]]):
    """``ai.pricing``: ``{"<model>": {"input": …, "output": …}, "*": {…}}``; ``"*"`` prices any other model."""

    @field_validator("root")
    @classmethod
    def _model_names(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        pattern = re.compile(MODEL_NAME_PATTERN)
        for name in value:
            if name != "*" and not pattern.match(name):
                raise ValueError(f"{name!r} is not a model name (expected e.g. 'glm-4-flash' or '*')")
        if not value:
            raise ValueError("the price table needs at least one model")
        return value


class TierTokens(_Strict):
    """``ai.quota.monthly_tokens``: tokens per calendar month by tier (0 = no chat)."""

    free: NonNegativeInt
    pro: NonNegativeInt
    enterprise: NonNegativeInt


class Rate(_Strict):
    """A token-bucket rate: ``per_minute`` refill and an optional ``burst`` capacity."""

    per_minute: PositiveInt = Field(description="Requests allowed per minute.")
    burst: PositiveInt | None = Field(None, description="Bucket capacity; defaults to per_minute.")


class TierRates(_Strict):
    """``rate_limit.tiers``: a rate per user tier."""

    free: Rate
    pro: Rate
    enterprise: Rate


class RouteRates(_Strict):
    """``rate_limit.routes``: a rate per route group."""

    conversations: Rate
    messages: Rate
    knowledge: Rate


class IngestLimit(_Strict):
    """Largest file and most pages one document may have."""

    max_bytes: PositiveInt
    max_pages: PositiveInt
    max_ocr_pages: PositiveInt | None = Field(
        None, description="Scanned pages (no text layer) or images one document may send to OCR."
    )


class IngestLimits(_Strict):
    """``ingest.limits``: ingest limits per user tier."""

    free: IngestLimit
    pro: IngestLimit
    enterprise: IngestLimit


class IngestOcr(_Strict):
    """``ingest.ocr``: which engine reads scanned pages and images (default: the offline one)."""

    engine: Literal["faster-paddle-tiny", "faster-paddle-small", "zhipu-vision"] = "faster-paddle-tiny"
    vision_model: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        "glm-4v-flash", description="The GLM-4V model when engine is zhipu-vision (needs a Zhipu key)."
    )


def _network(value: str, index: int) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        # The message names the position, not the text: values may be sensitive.
        raise ValueError(f"entry {index} is not an IP address or CIDR block") from exc
    return value


class IpList(RootModel[list[Annotated[str, StringConstraints(max_length=64)]]]):
    """``rate_limit.allow_ips`` / ``rate_limit.deny_ips``: IP addresses or CIDR blocks (v4 or v6)."""

    @field_validator("root")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        if len(value) > 10_000:
            raise ValueError("at most 10000 entries")
        for index, item in enumerate(value):
            _network(item, index)
        return value

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The entries as networks (a single address is a /32 or /128)."""
        return [ipaddress.ip_network(item, strict=False) for item in self.root]


DefaultModel = RootModel[ModelName]
SystemPrompt = RootModel[Annotated[str, StringConstraints(min_length=1, max_length=8000)]]

AnswerCacheTtl = RootModel[Annotated[int, Field(ge=0, le=30 * 86400, strict=True)]]
PromptTokenBudget = RootModel[Annotated[int, Field(ge=500, le=1_000_000, strict=True)]]

KNOWN_KEYS: dict[str, type[BaseModel]] = {
    "ai.default_model": DefaultModel,
    "ai.pricing": PriceTable,
    "ai.quota.monthly_tokens": TierTokens,
    "chat.system_prompt.default": SystemPrompt,
    "rate_limit.tiers": TierRates,
    "rate_limit.ip": Rate,
    "rate_limit.routes": RouteRates,
    "rate_limit.allow_ips": IpList,
    "rate_limit.deny_ips": IpList,
    "ingest.limits": IngestLimits,
    "ingest.ocr": IngestOcr,
    "chat.answer_cache.ttl_s": AnswerCacheTtl,
    "chat.prompt_token_budget": PromptTokenBudget,
}
"""Known keys and the model their value must satisfy."""

_KEY_ADAPTER = TypeAdapter(Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=KEY_MAX_LENGTH)])


def is_valid_key(key: str) -> bool:
    """True when ``key`` is a well-formed namespaced key."""
    return len(key) <= KEY_MAX_LENGTH and bool(_KEY_RE.match(key))


def value_errors(key: str, value: Any, loc: tuple[str | int, ...] = ("body", "value")) -> list[dict[str, Any]]:
    """Field errors of ``value`` for ``key`` (empty when valid); never includes the input itself."""
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return [{"loc": [str(p) for p in loc], "msg": "value must be JSON", "type": "json_type"}]
    if size > MAX_FREE_VALUE_BYTES:
        return [{"loc": list(loc), "msg": f"value is {size} bytes; at most {MAX_FREE_VALUE_BYTES}", "type": "too_long"}]
    model = KNOWN_KEYS.get(key)
    if model is None:
        return []
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [
            {
                "loc": [str(part) for part in (*loc, *(p for p in err["loc"] if p != "root"))],
                "msg": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors(include_input=False, include_url=False, include_context=False)
        ]
    return []


def validate_value(key: str, value: Any) -> None:
    """Raise ``ValidationFailed`` (422 with field errors) when ``value`` is not valid for ``key``."""
    errors = value_errors(key, value)
    if errors:
        raise ValidationFailed(f"Invalid value for config key {key!r}.", errors=errors)


def parse_config(key: str, value: Any) -> Any:
    """``value`` as the typed object of a known key (the raw value for free keys).

    ``RootModel`` keys (a model name, a prompt, a price table, an IP list) return the model;
    use ``.root`` for the plain value.
    """
    model = KNOWN_KEYS.get(key)
    return value if model is None or value is None else model.model_validate(value)


def read_typed(key: str) -> Any | None:
    """The current value of a known key as its typed object, or None when unset.

    Reads through ``claw_common.config.reader.get_config`` (cached, invalidated on write).
    A stored value that no longer validates (the model became stricter) is treated as unset
    and logged, so a reader falls back to its default instead of failing requests.
    """
    from claw_common.config.reader import get_config
    from claw_common.observability import logger

    value = get_config(key)
    try:
        return parse_config(key, value)
    except ValidationError:
        logger.warning("stored config value no longer validates; ignoring it", extra={"config_key": key})
        return None


__all__ = [
    "KEY_MAX_LENGTH",
    "KEY_PATTERN",
    "KNOWN_KEYS",
    "MAX_FREE_VALUE_BYTES",
    "MODEL_NAME_PATTERN",
    "IngestLimit",
    "IngestLimits",
    "IpList",
    "ModelPrice",
    "PriceTable",
    "Rate",
    "RouteRates",
    "TierRates",
    "TierTokens",
    "is_valid_key",
    "parse_config",
    "read_typed",
    "validate_value",
    "value_errors",
]
