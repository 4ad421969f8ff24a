"""The steps of ingesting one file: parse and chunk, embed, segment for keyword search."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from claw_common.observability import MetricUnit, logger, metrics
from ingest_app.chunker import Chunk, chunk_document
from ingest_app.parsers import DocumentRejected, ParseLimits, parse_document

EMBED_BATCH = 64
"""Chunks embedded per call: bounds memory and matches Zhipu's 64 inputs per request."""
CHUNK_MAX_TOKENS = 400
CHUNK_OVERLAP_TOKENS = 60


def parse_and_chunk(
    data: bytes,
    document: dict[str, Any],
    head: dict[str, Any],
    limits: ParseLimits,
    ocr_text: Mapping[int, str] | None = None,
    ocr_errors: Sequence[str] = (),
    *,
    log_crash: bool = True,
) -> tuple[list[Chunk], Any]:
    """Chunks of the parsed file; none while pages still wait for OCR (``parsed.ocr_missing``).

    ``log_crash=False`` when working ahead (``ingest_app.ahead``): the record itself logs it.
    """
    if len(data) > limits.max_bytes:
        raise DocumentRejected(f"file is too large: more than {limits.max_bytes / 1048576:.0f} MB", code="too_large")
    try:
        parsed = parse_document(data, document["filename"], head["content_type"], limits, ocr_text)
        if parsed.ocr_missing:
            return [], parsed
        chunks = chunk_document(
            parsed, max_tokens=CHUNK_MAX_TOKENS, overlap_tokens=CHUNK_OVERLAP_TOKENS, title=document["title"]
        )
    except DocumentRejected as exc:
        if exc.code == "empty" and ocr_errors:
            raise DocumentRejected(f"no text could be read by OCR: {ocr_errors[0]}", code="empty") from exc
        raise
    except Exception as exc:
        if log_crash:
            logger.exception("parser crashed", extra={"document_id": str(document["id"])})
        raise DocumentRejected(f"the file could not be read ({type(exc).__name__})", code="corrupt") from exc
    if not chunks:
        raise DocumentRejected("no text could be extracted from the document", code="empty")
    return chunks, parsed


def embed(embedder: Any, texts: list[str]) -> list[Any]:
    """Vectors of ``texts`` in batches of ``EMBED_BATCH``, each batch's latency recorded as a metric."""
    vectors: list[Any] = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start : start + EMBED_BATCH]
        started = time.perf_counter()
        vectors.extend(embedder.embed(batch))
        metrics.add_metric(
            name="EmbeddingLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
        )
    return vectors


def embed_texts(embedder: Any, texts: list[str]) -> list[Any]:
    """The same vectors as ``embed`` (same batches), without metrics: for a background thread."""
    vectors: list[Any] = []
    for start in range(0, len(texts), EMBED_BATCH):
        vectors.extend(embedder.embed(texts[start : start + EMBED_BATCH]))
    return vectors


def segment(texts: list[str]) -> list[str]:
    from claw_ai.textseg import segment_for_search

    return [segment_for_search(t) for t in texts]
