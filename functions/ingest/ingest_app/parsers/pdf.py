"""PDF: text per page, the outline as headings."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from ingest_app.parsers.base import (
    DocumentRejected,
    ParseLimits,
    _BlockWriter,
    _clean,
    _join_lines,
    _ParseResult,
)

# --------------------------------------------------------------------------- PDF


def _open_pdf(data: bytes) -> tuple[Any, int]:
    """The reader and its page count; encrypted or unreadable files are rejected."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _decrypt_with_empty_password(reader)
        page_count = len(reader.pages)
    except DocumentRejected:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentRejected("PDF is encrypted (password-protected)", code="encrypted") from exc
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError) as exc:
        raise DocumentRejected(f"PDF is corrupt or unreadable: {exc}", code="corrupt") from exc
    return reader, page_count


def _decrypt_with_empty_password(reader: Any) -> None:
    # Many PDFs are "encrypted" only with an owner password (print/copy restrictions)
    # and open in any viewer; only a user password really locks the text away.
    from pypdf.errors import PyPdfError

    try:
        opened = reader.decrypt("")
    except (NotImplementedError, PyPdfError) as exc:
        raise DocumentRejected(f"PDF is encrypted with an unsupported method ({exc})", code="encrypted") from exc
    if not opened:
        raise DocumentRejected(
            "PDF is encrypted (password-protected); remove the password and upload again", code="encrypted"
        )


def _parse_pdf(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    from pypdf.errors import PyPdfError

    reader, page_count = _open_pdf(data)
    if page_count == 0:
        raise DocumentRejected("PDF has no pages", code="empty")
    if page_count > limits.max_pages:
        raise DocumentRejected(f"PDF has {page_count} pages, the limit is {limits.max_pages}", code="too_many_pages")

    outline = _pdf_outline(reader)
    title = None
    try:
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title)
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        title = None

    out = _BlockWriter()
    failed_pages = 0
    for index, page in enumerate(reader.pages):
        for level, text in outline.get(index, ()):
            out.heading(text, level, page=index + 1)
        try:
            text = page.extract_text() or ""
        except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, ZeroDivisionError):
            # One broken content stream should not lose the rest of the document.
            failed_pages += 1
            continue
        for paragraph in _pdf_paragraphs(text):
            out.add(paragraph, page=index + 1)
    if failed_pages == page_count:
        raise DocumentRejected("PDF is corrupt: no page could be read", code="corrupt")
    return title or out.first_heading, out.blocks, page_count


def _pdf_outline(reader: Any) -> dict[int, list[tuple[int, str]]]:
    """Bookmarks by page index, as (level, title); broken outlines are ignored (they are optional)."""
    found: dict[int, list[tuple[int, str]]] = {}

    def walk(items: Any, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
                title = str(item.title)
            except Exception:  # noqa: BLE001, S112 - outlines are optional; a defect means "no heading"
                continue
            if page is not None and title.strip():
                found.setdefault(page, []).append((min(level, 6), title))

    try:
        walk(reader.outline, 1)
    except Exception:  # noqa: BLE001 - same: never fail a document because its bookmarks are broken
        return {}
    return found


_PARA_END = re.compile(r"[。！？!?.:：;；…”」』)）]$")


def _pdf_paragraphs(text: str) -> Iterator[str]:
    """Rebuild paragraphs from pypdf's layout lines: a blank line or a sentence end closes one."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = _clean(raw)
        if not line:
            if lines:
                yield _join_lines(lines)
                lines = []
            continue
        lines.append(line)
        if _PARA_END.search(line):
            yield _join_lines(lines)
            lines = []
    if lines:
        yield _join_lines(lines)
