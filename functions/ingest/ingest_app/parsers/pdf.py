"""PDF: text per page, the outline as headings; pages without a usable text layer are left to OCR."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ingest_app.parsers.base import (
    DocumentRejected,
    ParseLimits,
    _BlockWriter,
    _clean,
    _join_lines,
    _ParseResult,
)
from ingest_app.parsers.textlayer import has_usable_text_layer

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
    title, blocks, page_count, _ = parse_pdf_pages(data, limits, {})
    return title, blocks, page_count


def parse_pdf_pages(
    data: bytes, limits: ParseLimits, ocr_text: Mapping[int, str]
) -> tuple[str | None, list[Any], int, list[int]]:
    """Title, blocks, page count, and the 1-based pages that need OCR.

    A page needs OCR when its text layer is missing or garbage and it draws a picture (a
    scan); those pages take their text from ``ocr_text`` (page -> OCR text) when it has them,
    the others keep their text layer. More such pages than ``limits.max_ocr_pages`` reject the
    document before any OCR starts.
    """
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

    texts: list[str | None] = []
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, ZeroDivisionError):
            # One broken content stream should not lose the rest of the document.
            texts.append(None)
    if all(text is None for text in texts):
        raise DocumentRejected("PDF is corrupt: no page could be read", code="corrupt")
    # A short text-only page (a cover, "Notes") keeps its text and is never sent to OCR.
    needs_ocr = [
        number
        for number, (page, text) in enumerate(zip(reader.pages, texts, strict=True), start=1)
        if not has_usable_text_layer(text) and _draws_images(page)
    ]
    if len(needs_ocr) > limits.max_ocr_pages:
        raise DocumentRejected(
            f"PDF has {len(needs_ocr)} scanned pages without a text layer that would need OCR, "
            f"the limit is {limits.max_ocr_pages} per document",
            code="too_many_pages",
        )

    out = _BlockWriter()
    for index, text in enumerate(texts):
        for level, heading in outline.get(index, ()):
            out.heading(heading, level, page=index + 1)
        if index + 1 in ocr_text and index + 1 in needs_ocr:
            text = ocr_text[index + 1]
        for paragraph in _pdf_paragraphs(text or ""):
            out.add(paragraph, page=index + 1)
    return title or out.first_heading, out.blocks, page_count, needs_ocr


def _draws_images(page: Any) -> bool:
    """Whether the page's resources hold an image (or a form that may wrap one); unsure → True."""
    try:
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if resources is not None else None
        if xobjects is None:
            return False
        return any(
            xobject.get_object().get("/Subtype") in ("/Image", "/Form") for xobject in xobjects.get_object().values()
        )
    except Exception:  # noqa: BLE001 - a broken resource dictionary: let OCR look at the rendered page
        return True


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
