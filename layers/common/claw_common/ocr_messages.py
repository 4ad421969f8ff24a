"""The messages between the ingest and OCR functions (neither imports the other).

Ingest sends ``OcrPagesRequest`` to the OCR queue, a range of pages per message; the OCR
function stores each page's text and, when the document's last page is in, sends
``OcrCompleted`` to the ingest queue, where ingest assembles the chunks. Both carry the
object version they are about, so a message for an older version is skipped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OcrPagesRequest(BaseModel):
    """OCR these pages of that object version (1-based; an image is page 1)."""

    kind: Literal["ocr_pages"] = "ocr_pages"
    document_id: str = Field(description="The document whose pages these are.")
    bucket: str
    key: str
    version_id: str | None = Field(None, description="S3 version of the object (None without versioning).")
    etag: str | None = None
    source_version: str = Field(description="version_id, or the ETag without versioning: what the pages belong to.")
    file_type: Literal["pdf", "image"]
    pages: list[int] = Field(min_length=1, max_length=1000)


class OcrCompleted(BaseModel):
    """Every page of ``source_version`` has its OCR text: assemble the document's chunks."""

    kind: Literal["ocr_completed"] = "ocr_completed"
    document_id: str
    bucket: str
    key: str
    source_version: str
