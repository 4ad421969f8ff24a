"""Scanned pages and images go to the OCR function; their text comes back for assembly.

Ingest parses a PDF with pypdf; pages without a usable text layer (and images) are not read
here: the OCR engine does not fit this function's size budget (benchmarks/results/ocr.md).
Ingest records the document as ``processing`` with its OCR progress, deletes the page texts
of older object versions (a new version supersedes a half-done OCR) and sends the missing
pages to the OCR queue, ``pages_per_message`` at a time. The OCR function stores each page in
``document_pages`` and, when the last one is in, sends ``OcrCompleted`` back to the ingest
queue; ingest then parses the same object version again with the stored texts and writes all
its chunks in one transaction (``ingest_app.logic``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from claw_common.ocr_messages import OcrPagesRequest


def source_version(identity: dict[str, Any]) -> str:
    """What OCR pages belong to: the S3 version id, or the ETag of an unversioned object."""
    return str(identity.get("version_id") or identity.get("etag") or "")


def ocr_texts(conn: Any, document_id: str, source: str) -> tuple[dict[int, str], list[str]]:
    """Page -> OCR text stored for this object version, and why OCR could not read some pages.

    A page OCR could not read has empty text and its reason (shown when no page had any text).
    """
    rows = conn.execute(
        "SELECT page, text, error FROM document_pages WHERE document_id = %s AND source_version = %s ORDER BY page",
        (document_id, source),
    ).fetchall()
    return {int(row["page"]): str(row["text"]) for row in rows}, [str(r["error"]) for r in rows if r["error"]]


def start_ocr(conn: Any, document_id: str, *, source: str, total: int, done: int) -> None:
    """The document waits for OCR of ``total`` pages of ``source``; older versions' pages go."""
    conn.execute(
        "DELETE FROM document_pages WHERE document_id = %s AND source_version <> %s",
        (document_id, source),
    )
    conn.execute(
        """UPDATE documents
              SET status = 'processing', error = NULL, error_code = NULL, ocr_source = %s,
                  ocr_pages_total = %s, ocr_pages_done = %s, updated_at = now()
            WHERE id = %s""",
        (source, total, done, document_id),
    )


def record_ocr_pages(conn: Any, document_id: str, *, source: str, pages: int) -> None:
    """The ingested text holds ``pages`` pages read by OCR (0 for a document with a text layer).

    Page texts of other object versions are no longer needed; this version's stay, so a
    re-ingest of the same version (after a temporary failure) needs no OCR again.
    """
    conn.execute(
        "DELETE FROM document_pages WHERE document_id = %s AND source_version <> %s",
        (document_id, source),
    )
    conn.execute(
        """UPDATE documents
              SET ocr_pages = %s, ocr_pages_total = %s, ocr_pages_done = %s,
                  ocr_source = CASE WHEN %s > 0 THEN %s ELSE ocr_source END
            WHERE id = %s""",
        (pages, pages, pages, pages, source, document_id),
    )


def page_ranges(pages: Sequence[int], size: int) -> list[list[int]]:
    """``pages`` in runs of at most ``size`` (the order kept)."""
    return [list(pages[start : start + size]) for start in range(0, len(pages), max(size, 1))]


def enqueue_ocr(
    sqs: Any,
    queue_url: str,
    *,
    document: dict[str, Any],
    identity: dict[str, Any],
    file_type: str,
    pages: Sequence[int],
    pages_per_message: int,
) -> int:
    """Send the pages to the OCR queue, ``pages_per_message`` per message; returns the messages sent.

    Raises on a send failure (the ingest record then retries; pages already stored are not
    read twice, and a range sent twice is skipped page by page by the OCR function).
    """
    bodies = [
        OcrPagesRequest(
            document_id=str(document["id"]),
            bucket=document["s3_bucket"],
            key=document["s3_key"],
            version_id=identity.get("version_id"),
            etag=identity.get("etag"),
            source_version=source_version(identity),
            file_type="image" if file_type == "image" else "pdf",
            pages=chunk,
        ).model_dump_json()
        for chunk in page_ranges(pages, pages_per_message)
    ]
    for start in range(0, len(bodies), 10):  # SendMessageBatch takes 10 entries
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
        result = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if result.get("Failed"):
            failed = json.dumps(result["Failed"])
            raise RuntimeError(f"the OCR queue refused {len(result['Failed'])} messages: {failed}")
    return len(bodies)
