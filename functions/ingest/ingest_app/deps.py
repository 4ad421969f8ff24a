"""The adapters ingest uses (S3, SQS, the embedder, the tier limits), injected so tests and
benchmarks can pass their own, and the process's own set."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from claw_common.observability import logger
from ingest_app.parsers import ParseLimits, limits_for_tier


@dataclass(frozen=True)
class IngestDeps:
    """The adapters ingest uses, injected so tests can pass their own."""

    s3: Any
    embedder: Any
    limits_for: Callable[[str], ParseLimits]
    sqs: Any = None
    ocr_queue_url: str | None = None
    ocr_pages_per_message: int = 10
    ingest_queue_url: str | None = None  # its own queue: the delayed "build the vector index" (vector_upkeep)
    index_quiet_s: int = 30
    ahead: Any = None  # the invocation's ingest_app.ahead.WorkAhead: the next record prepared meanwhile


@lru_cache(maxsize=1)
def get_ingest_deps() -> IngestDeps:
    """The process's adapters: S3 client, cached embedder (Redis), tier limits with config overrides."""
    from claw_ai.providers import get_embedder
    from claw_ai.vector_cache import CachedEmbedder, RedisVectorCache
    from claw_common.aws import aws_client
    from claw_common.data.cache import get_redis
    from claw_common.settings import get_settings

    settings = get_settings()
    embedder = CachedEmbedder(get_embedder(settings), RedisVectorCache(get_redis()))
    return IngestDeps(
        s3=aws_client("s3"),
        embedder=embedder,
        limits_for=limits_for_owner_tier,
        sqs=aws_client("sqs"),
        ocr_queue_url=settings.ocr_queue_url,
        ocr_pages_per_message=settings.ocr_pages_per_message,
        ingest_queue_url=settings.ingest_queue_url,
        index_quiet_s=settings.vector_index_quiet_s,
    )


def limits_for_owner_tier(tier: str) -> ParseLimits:
    """Tier limits (``limits_for_tier``), overridden field by field by the config key ``ingest.limits``.

    ``ingest.limits`` is ``{"free": {"max_bytes": …, "max_pages": …}, "pro": {…}}``; unknown
    fields and non-positive values are ignored, so a bad config can never lift every limit.
    """
    base = limits_for_tier(tier)
    try:
        from claw_common.config.reader import get_config

        config = get_config("ingest.limits")
    except Exception:  # noqa: BLE001 - a config outage must not stop ingestion; the defaults apply
        logger.warning("ingest.limits could not be read; using the tier defaults")
        return base
    override = config.get(tier) if isinstance(config, dict) else None
    if not isinstance(override, dict):
        return base
    allowed = {f.name: f.type for f in dataclasses.fields(ParseLimits)}
    changes: dict[str, Any] = {}
    for name, value in override.items():
        if name in allowed and isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            changes[name] = float(value) if name == "max_compression_ratio" else int(value)
    return dataclasses.replace(base, **changes) if changes else base
