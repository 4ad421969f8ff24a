"""Turn an uploaded file into an ordered list of text blocks that keep their structure.

Every format ends as ``ParsedDocument.blocks``: headings (with a level), paragraphs, list
items, code, and table rows (rendered ``Header: value; …`` so a row keeps its header when it
is retrieved on its own). The chunker packs these blocks; it never sees file formats.

Untrusted input: every limit is checked before the expensive work (size first, the zip
central directory before an Office file is opened, the page count before text
extraction), and every failure ends as ``DocumentRejected`` with a machine ``code`` and a
reason a user can read in the document's ``error`` field. Parser libraries are imported
where they are first needed so the ingest cold start pays only for the format it meets.
Nothing here touches the network: HTML is parsed, never rendered or fetched.
"""

from __future__ import annotations

from collections.abc import Callable

from ingest_app.parsers.base import (
    MB,
    Block,
    BlockKind,
    DocumentRejected,
    ParsedDocument,
    ParseLimits,
    _ParseResult,
    limits_for_tier,
)
from ingest_app.parsers.detect import detect_file_type
from ingest_app.parsers.docx import _parse_docx
from ingest_app.parsers.html import _parse_html
from ingest_app.parsers.markdown import _parse_markdown
from ingest_app.parsers.pdf import _parse_pdf
from ingest_app.parsers.sheets import _parse_csv, _parse_xlsx
from ingest_app.parsers.text import _parse_json, _parse_txt

# --------------------------------------------------------------------------- entry point

_PARSER_NAMES = {
    "pdf": "pypdf",
    "docx": "python-docx",
    "xlsx": "openpyxl",
    "csv": "csv",
    "html": "selectolax",
    "markdown": "markdown",
    "txt": "text",
    "json": "json",
}


__all__ = [
    "MB",
    "Block",
    "BlockKind",
    "DocumentRejected",
    "ParseLimits",
    "ParsedDocument",
    "detect_file_type",
    "limits_for_tier",
    "parse_document",
]


def parse_document(data: bytes, filename: str, content_type: str | None, limits: ParseLimits) -> ParsedDocument:
    """Parse one uploaded file into structured blocks.

    Raises ``DocumentRejected`` (with ``code`` and a readable ``reason``) for files that are
    too large, empty, encrypted, corrupt, zip bombs, over the page/row limits, or of an
    unsupported type. Never does network I/O.
    """
    if len(data) > limits.max_bytes:
        raise DocumentRejected(
            f"file is too large: {len(data) / MB:.1f} MB, the limit is {limits.max_bytes / MB:.0f} MB",
            code="too_large",
        )
    if not data.strip():
        raise DocumentRejected("the file is empty", code="empty")

    file_type = detect_file_type(data, filename, content_type)
    fallback_title = _stem(filename)
    parse = _PARSERS[file_type]
    try:
        title, blocks, pages = parse(data, filename, limits)
    except DocumentRejected:
        raise
    except RecursionError as exc:
        raise DocumentRejected(f"{file_type.upper()} is nested too deeply to read", code="corrupt") from exc
    except MemoryError as exc:
        raise DocumentRejected("the document is too large to process", code="too_large") from exc

    blocks = [b for b in blocks if b.text.strip()]
    if not blocks:
        hint = " (a scanned PDF has no text layer; OCR is not supported)" if file_type == "pdf" else ""
        raise DocumentRejected(f"no text could be extracted from the document{hint}", code="empty")
    return ParsedDocument(
        title=(title or "").strip() or fallback_title,
        file_type=file_type,
        parser=_PARSER_NAMES[file_type],
        blocks=blocks,
        page_count=pages,
    )


def _stem(filename: str) -> str:
    name = filename.rsplit("/", 1)[-1]
    return (name.rsplit(".", 1)[0] if "." in name else name) or "untitled"


_PARSERS: dict[str, Callable[[bytes, str, ParseLimits], _ParseResult]] = {
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "xlsx": _parse_xlsx,
    "csv": _parse_csv,
    "html": _parse_html,
    "markdown": _parse_markdown,
    "txt": _parse_txt,
    "json": _parse_json,
}
