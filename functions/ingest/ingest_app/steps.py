"""The steps of ingesting one file: parse and chunk, embed, segment for keyword search."""

from __future__ import annotations

import time
from typing import Any

from claw_common.observability import MetricUnit, logger, metrics
from ingest_app.chunker import Chunk, chunk_document
from ingest_app.parsers import DocumentRejected, ParseLimits, parse_document

EMBED_BATCH = 64
"""Chunks embedded per call: bounds memory and matches Zhipu's 64 inputs per request."""
CHUNK_MAX_TOKENS = 400
CHUNK_OVERLAP_TOKENS = 60


def parse_and_chunk(
    data: bytes, document: dict[str, Any], head: dict[str, Any], limits: ParseLimits
) -> tuple[list[Chunk], Any]:
    if len(data) > limits.max_bytes:
        raise DocumentRejected(f"file is too large: more than {limits.max_bytes / 1048576:.0f} MB", code="too_large")
    try:
        parsed = parse_document(data, document["filename"], head["content_type"], limits)
        chunks = chunk_document(
            parsed, max_tokens=CHUNK_MAX_TOKENS, overlap_tokens=CHUNK_OVERLAP_TOKENS, title=document["title"]
        )
    except DocumentRejected:
        raise
    except Exception as exc:
        logger.exception("parser crashed", extra={"document_id": str(document["id"])})
        raise DocumentRejected(f"the file could not be read ({type(exc).__name__})", code="corrupt") from exc
    if not chunks:
        raise DocumentRejected("no text could be extracted from the document", code="empty")
    return chunks, parsed


def embed(embedder: Any, texts: list[str]) -> list[Any]:
    vectors: list[Any] = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start : start + EMBED_BATCH]
        started = time.perf_counter()
        vectors.extend(embedder.embed(batch))
        metrics.add_metric(
            name="EmbeddingLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
        )
    return vectors


def segment(texts: list[str]) -> list[str]:
    from claw_ai.textseg import segment_for_search

    return [segment_for_search(t) for t in texts]
