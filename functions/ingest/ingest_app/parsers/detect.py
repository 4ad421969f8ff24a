"""Which format a file is: extension, content type and magic bytes."""

from __future__ import annotations

import io
import json
import re
import zipfile

from ingest_app.parsers.base import (
    DocumentRejected,
    _decode_text,
)

# --------------------------------------------------------------------------- detection

_EXTENSIONS = {
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
}
_CONTENT_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "txt",
    "application/json": "json",
}
_LEGACY_EXTENSIONS = {"doc", "xls", "ppt", "rtf", "odt", "ods", "pages", "numbers", "pptx", "wps", "et"}
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_MAGICS = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7z archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "an executable"),
)


def _extension(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _zip_kind(data: bytes) -> str | None:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    return "zip"


def detect_file_type(data: bytes, filename: str, content_type: str | None = None) -> str:
    """Detect the document type: the extension (or content type) first, then the magic bytes.

    Magic bytes win for binary formats, so a PDF named ``.docx`` is parsed as a PDF, while a
    ``.pdf`` that is not a PDF is rejected as corrupt rather than parsed as text.
    """
    ext = _extension(filename)
    claimed = _EXTENSIONS.get(ext)
    if claimed is None and content_type:
        claimed = _CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())

    binary = _binary_type(data, claimed)
    if binary is not None:
        return binary
    head = data[:8]
    if claimed == "pdf":
        raise DocumentRejected("the file is named .pdf but is not a PDF (no %PDF header)", code="corrupt")
    if claimed in ("docx", "xlsx"):
        raise DocumentRejected(
            f"the file is named .{ext or claimed} but is not a {claimed.upper()} file", code="corrupt"
        )
    for magic, what in _BINARY_MAGICS:
        if head.startswith(magic):
            raise DocumentRejected(f"unsupported file type: {what}", code="unsupported_type")
    if ext in _LEGACY_EXTENSIONS:
        raise DocumentRejected(f"unsupported file type: .{ext}", code="unsupported_type")
    if b"\x00" in data[:8192]:
        raise DocumentRejected(
            f"unsupported file type: binary content{f' (.{ext})' if ext else ''}", code="unsupported_type"
        )
    if claimed is not None:
        return claimed
    if ext:
        raise DocumentRejected(f"unsupported file type: .{ext}", code="unsupported_type")
    return _sniff_text_type(data)


def _binary_type(data: bytes, claimed: str | None) -> str | None:
    """PDF, DOCX or XLSX by their magic bytes (None: not one of them); other containers are rejected."""
    head = data[:8]
    if head.startswith(b"%PDF-") or (b"%PDF-" in data[:1024] and claimed in (None, "pdf")):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        kind = _zip_kind(data)
        if kind in ("docx", "xlsx"):
            return kind
        if claimed in ("docx", "xlsx"):
            # A zip that is not an Office document (or a broken one): let the format check explain.
            return claimed
        raise DocumentRejected(
            "unsupported file type: a zip archive (upload the files inside it)", code="unsupported_type"
        )
    if head.startswith(_OLE2_MAGIC):
        if claimed in ("docx", "xlsx"):
            # Office saves password-protected DOCX/XLSX as an OLE2 container around the encrypted package.
            raise DocumentRejected(
                f"{claimed.upper()} is encrypted (password-protected); remove the password and upload again",
                code="encrypted",
            )
        raise DocumentRejected(
            "unsupported file type: legacy Office format (.doc/.xls/.ppt); save it as DOCX or XLSX",
            code="unsupported_type",
        )
    return None


def _sniff_text_type(data: bytes) -> str:
    start = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start[:1] in (b"{", b"["):
        try:
            json.loads(_decode_text(data))
            return "json"
        except (ValueError, DocumentRejected):
            return "txt"
    if start.startswith((b"<!doctype html", b"<html")) or b"<body" in start:
        return "html"
    if re.search(rb"(?m)^#{1,6} \S", data[:4096]):
        return "markdown"
    return "txt"
