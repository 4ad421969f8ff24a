"""The document contract the knowledge and ingest functions share: where documents live in the
bucket, which file types are accepted, and how large a file each tier may store.

Config ``ingest.limits`` can lower or raise the sizes at run time; these are the defaults.
"""

from __future__ import annotations

import re

MB = 1024 * 1024
KB_PREFIX = "kb/"
"""Only objects under ``kb/<knowledge_base_id>/`` are documents (the bucket notification's prefix)."""
_KB_KEY = re.compile(r"^kb/([0-9a-fA-F-]{36})/(.+)$")

FORMAT_OF_EXTENSION = {
    "pdf": "pdf",
    "docx": "docx",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "csv": "csv",
    "tsv": "csv",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "md": "markdown",
    "markdown": "markdown",
    "txt": "txt",
    "text": "txt",
    "log": "txt",
    "json": "json",
    # Pictures of documents, read by OCR (as are PDF pages without a text layer).
    "png": "image",
    "jpg": "image",
    "jpeg": "image",
    "webp": "image",
}
"""File extension → the parser family that reads it."""
SUPPORTED_EXTENSIONS = frozenset(FORMAT_OF_EXTENSION)

TIER_MAX_BYTES = {"free": 10 * MB, "pro": 50 * MB, "enterprise": 200 * MB}
"""Largest file per tier: what a presigned upload of the tier may send and what ingest parses."""


def object_key(knowledge_base_id: str, document_id: str, filename: str) -> str:
    """Where a document's file is stored: ``kb/<kb_id>/<document_id>/<filename>``."""
    return f"{KB_PREFIX}{knowledge_base_id}/{document_id}/{filename}"


def knowledge_base_of(key: str) -> tuple[str, str] | None:
    """``kb/<kb_id>/<anything>`` → (kb_id, file name); None for a key outside the contract."""
    match = _KB_KEY.match(key)
    if not match:
        return None
    filename = match.group(2).rsplit("/", 1)[-1]
    return (match.group(1).lower(), filename) if filename else None
