"""SQL of the OCR function: the document's OCR state and its page texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class OcrState:
    """What the OCR of one document is about: the object version and how many pages it needs."""

    document_id: str
    ocr_source: str | None
    ocr_pages_total: int


class PageRepository:
    """``document_pages`` and the OCR progress on ``documents``, bound to one connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def state(self, document_id: str) -> OcrState | None:
        """The document's OCR state, or None when the document is gone."""
        row = self.conn.execute(
            "SELECT id::text AS document_id, ocr_source, ocr_pages_total FROM documents WHERE id = %s",
            (document_id,),
        ).fetchone()
        return OcrState(**row) if row else None

    def pages_done(self, document_id: str, source: str) -> set[int]:
        """Pages of this object version already stored (read, or given up with a reason)."""
        rows = self.conn.execute(
            "SELECT page FROM document_pages WHERE document_id = %s AND source_version = %s",
            (document_id, source),
        ).fetchall()
        return {int(row["page"]) for row in rows}

    def save_page(
        self,
        document_id: str,
        source: str,
        page: int,
        *,
        text: str,
        engine: str,
        confidence: float | None = None,
        seconds: float | None = None,
        error: str | None = None,
    ) -> None:
        """Store one page (a redelivered range stores nothing twice) and refresh the progress counter.

        Only while the document is still waiting for this version: a page of a superseded
        version is dropped.
        """
        self.conn.execute(
            """INSERT INTO document_pages (document_id, source_version, page, text, engine, confidence, seconds, error)
               SELECT id, %s, %s, %s, %s, %s, %s, %s FROM documents WHERE id = %s AND ocr_source = %s
               ON CONFLICT (document_id, source_version, page) DO NOTHING""",
            (source, page, text.replace("\x00", ""), engine, confidence, seconds, error, document_id, source),
        )
        self.conn.execute(
            """UPDATE documents
                  SET ocr_pages_done = (SELECT count(*) FROM document_pages
                                         WHERE document_id = %s AND source_version = %s),
                      status = CASE WHEN status = 'failed' AND error_code = 'temporary'
                                    THEN 'processing' ELSE status END,
                      error = CASE WHEN status = 'failed' AND error_code = 'temporary' THEN NULL ELSE error END,
                      error_code = CASE WHEN status = 'failed' AND error_code = 'temporary'
                                        THEN NULL ELSE error_code END,
                      updated_at = now()
                WHERE id = %s AND ocr_source = %s""",
            (document_id, source, document_id, source),
        )

    def mark_interrupted(self, document_id: str, source: str, reason: str) -> None:
        """Show a temporary failure on the document while its OCR waits for a redelivery.

        The next page stored puts it back to ``processing`` (``save_page``); a document
        already ready, failed for good or of a newer version is left alone.
        """
        self.conn.execute(
            """UPDATE documents SET status = 'failed', error = %s, error_code = 'temporary', updated_at = now()
                WHERE id = %s AND ocr_source = %s AND status = 'processing'""",
            (reason, document_id, source),
        )
