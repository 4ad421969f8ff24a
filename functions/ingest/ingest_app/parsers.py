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

import csv
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

__all__ = [
    "Block",
    "BlockKind",
    "DocumentRejected",
    "ParseLimits",
    "ParsedDocument",
    "detect_file_type",
    "limits_for_tier",
    "parse_document",
]

MB = 1024 * 1024

BlockKind = Literal["heading", "paragraph", "list_item", "code", "table_row"]
RejectCode = Literal[
    "encrypted",
    "corrupt",
    "zip_bomb",
    "too_large",
    "too_many_pages",
    "too_many_rows",
    "unsupported_type",
    "empty",
]


class DocumentRejected(Exception):
    """The file cannot be ingested; ``reason`` is shown to the user, ``code`` is for metrics and logic."""

    def __init__(self, reason: str, *, code: RejectCode = "corrupt") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def __repr__(self) -> str:
        return f"DocumentRejected(code={self.code!r}, reason={self.reason!r})"


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Resource limits for one document.

    The zip limits protect DOCX/XLSX (both are zip files): a real 50 MB spreadsheet inflates
    to a few hundred MB of XML at most, and office XML compresses around 5-20x, so a ratio
    above 100 or more entries than any real document has means a crafted archive.
    """

    max_bytes: int = 10 * MB
    max_pages: int = 200
    max_rows: int = 100_000
    max_uncompressed_bytes: int = 200 * MB
    max_compression_ratio: float = 100.0
    max_zip_entries: int = 10_000


# Tier limits. The page limits keep one document's parse well inside the ingest Lambda's
# timeout (pypdf extracts roughly 20-100 pages/s), and the byte limits match what a
# presigned upload of that tier may send; enterprise documents up to 200 MB still fit the
# Lambda's memory because only one is parsed at a time.
_TIER_LIMITS: dict[str, ParseLimits] = {
    "free": ParseLimits(max_bytes=10 * MB, max_pages=200, max_rows=50_000, max_uncompressed_bytes=200 * MB),
    "pro": ParseLimits(max_bytes=50 * MB, max_pages=1000, max_rows=200_000, max_uncompressed_bytes=500 * MB),
    "enterprise": ParseLimits(max_bytes=200 * MB, max_pages=5000, max_rows=1_000_000, max_uncompressed_bytes=1500 * MB),
}


def limits_for_tier(tier: str) -> ParseLimits:
    """Parse limits of a user tier (free 10 MB / 200 pages, pro 50 MB / 1000, enterprise 200 MB / 5000).

    An unknown tier gets the free limits: a typo must never lift the limits.
    """
    return _TIER_LIMITS.get(tier, _TIER_LIMITS["free"])


@dataclass(slots=True)
class Block:
    """One structural unit of a document, in reading order.

    ``heading_path`` is the chain of headings above the block; for a heading it ends with
    the heading itself. ``level`` is the heading level (0 = document title, 1-6), 0 otherwise.
    ``page`` is 1-based (PDF), ``row`` the 1-based row as the user sees it (sheet row, CSV
    line, table row), ``sheet`` the worksheet name.
    """

    text: str
    kind: BlockKind = "paragraph"
    level: int = 0
    heading_path: list[str] = field(default_factory=list)
    page: int | None = None
    row: int | None = None
    sheet: str | None = None


@dataclass(slots=True)
class ParsedDocument:
    """A parsed document: its title, detected type, the parser used, and its blocks."""

    title: str
    file_type: str
    parser: str
    blocks: list[Block]
    page_count: int | None = None


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


# --------------------------------------------------------------------------- shared helpers

_WS = re.compile(r"[ \t\u3000\xa0\r\f\v]+")
_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def _decode_text(data: bytes) -> str:
    """Decode text the way Chinese users' files arrive: UTF-8 (with or without BOM), else GB18030."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentRejected("the text is neither UTF-8 nor GB18030 encoded", code="corrupt")


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\x00", "")
    return _WS.sub(" ", text).strip()


def _join_lines(lines: Iterable[str]) -> str:
    """Join wrapped lines: no space between CJK characters, a space between words, de-hyphenated."""
    out = ""
    for raw in lines:
        line = _clean(raw)
        if not line:
            continue
        if not out:
            out = line
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[0].islower():
            out = out[:-1] + line
        elif _CJK_CHAR.match(out[-1]) or _CJK_CHAR.match(line[0]):
            out += line
        else:
            out += " " + line
    return out


class _HeadingStack:
    """Tracks the current heading path while walking a document."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, text: str) -> list[str]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        return self.path()

    def path(self) -> list[str]:
        return [t for _, t in self._stack]


class _BlockWriter:
    """Appends blocks with the current heading path filled in."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings = _HeadingStack()
        self.first_heading: str | None = None

    def heading(self, text: str, level: int, **where: Any) -> None:
        text = _clean(text)
        if not text:
            return
        if self.first_heading is None:
            self.first_heading = text
        self.blocks.append(Block(text, "heading", level, self.headings.push(level, text), **where))

    def add(self, text: str, kind: BlockKind = "paragraph", **where: Any) -> None:
        if text.strip():
            self.blocks.append(Block(text.strip(), kind, 0, self.headings.path(), **where))


def _render_row(header: list[str], values: list[str]) -> str:
    """``Header: value; …``; cells without a header get their column number, empty cells are skipped."""
    parts = []
    for i, value in enumerate(values):
        if not value:
            continue
        name = header[i] if i < len(header) and header[i] else f"列{i + 1}"
        parts.append(f"{name}: {value}")
    return "; ".join(parts)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds").removesuffix(" 00:00:00")
    if isinstance(value, date | time):
        return value.isoformat()
    return _clean(str(value))


def _check_zip(data: bytes, limits: ParseLimits, kind: str, required: str) -> None:
    """Reject zip bombs from the central directory alone, before any entry is inflated.

    ``zipfile`` (used by python-docx and openpyxl) stops inflating an entry at its declared
    size and fails the CRC check if more data follows, so the declared sizes are a real bound.
    Office files never contain a DTD, so one in any XML part is treated as an entity-expansion
    attack rather than handed to an XML parser.
    """
    label = kind.upper()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise DocumentRejected(f"{label} is corrupt: not a readable zip container ({exc})", code="corrupt") from exc
    if len(infos) > limits.max_zip_entries:
        raise DocumentRejected(
            f"{label} rejected as a possible zip bomb: {len(infos)} entries (limit {limits.max_zip_entries})",
            code="zip_bomb",
        )
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise DocumentRejected(
            f"{label} rejected as a possible zip bomb: it inflates to {total / MB:.0f} MB "
            f"(limit {limits.max_uncompressed_bytes / MB:.0f} MB)",
            code="zip_bomb",
        )
    for info in infos:
        # Tiny entries legitimately compress very well (a few hundred bytes of repeated XML);
        # only a big entry with an extreme ratio is suspicious.
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MB and ratio > limits.max_compression_ratio:
            raise DocumentRejected(
                f"{label} rejected as a possible zip bomb: entry {info.filename!r} has a compression ratio of "
                f"{ratio:.0f}:1 (limit {limits.max_compression_ratio:.0f}:1)",
                code="zip_bomb",
            )
    if total > 10 * MB and total / max(len(data), 1) > limits.max_compression_ratio:
        raise DocumentRejected(
            f"{label} rejected as a possible zip bomb: overall compression ratio {total / len(data):.0f}:1",
            code="zip_bomb",
        )
    names = {i.filename for i in infos}
    if required not in names:
        raise DocumentRejected(f"{label} is corrupt: {required} is missing", code="corrupt")
    try:
        for info in infos:
            if info.filename.endswith((".xml", ".rels")):
                with archive.open(info) as part:
                    head = part.read(4096)
                if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                    raise DocumentRejected(
                        f"{label} rejected: {info.filename} declares an XML DTD, which Office files never do",
                        code="corrupt",
                    )
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted entry; NotImplementedError: an unknown compression method.
        raise DocumentRejected(f"{label} is corrupt: {exc}", code="corrupt") from exc


_ParseResult = tuple[str | None, list[Block], int | None]


# --------------------------------------------------------------------------- PDF


def _parse_pdf(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are "encrypted" only with an owner password (print/copy restrictions)
            # and open in any viewer; only a user password really locks the text away.
            try:
                opened = reader.decrypt("")
            except (NotImplementedError, PyPdfError) as exc:
                raise DocumentRejected(
                    f"PDF is encrypted with an unsupported method ({exc})", code="encrypted"
                ) from exc
            if not opened:
                raise DocumentRejected(
                    "PDF is encrypted (password-protected); remove the password and upload again", code="encrypted"
                )
        page_count = len(reader.pages)
    except DocumentRejected:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentRejected("PDF is encrypted (password-protected)", code="encrypted") from exc
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError) as exc:
        raise DocumentRejected(f"PDF is corrupt or unreadable: {exc}", code="corrupt") from exc

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


# --------------------------------------------------------------------------- DOCX

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)


def _parse_docx(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    _check_zip(data, limits, "docx", "word/document.xml")
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        content = list(document.iter_inner_content())
    except Exception as exc:  # python-docx raises lxml, KeyError, ValueError… on damaged files
        raise DocumentRejected(f"DOCX is corrupt or unreadable: {type(exc).__name__}: {exc}", code="corrupt") from exc

    out = _BlockWriter()
    rows = 0
    for item in content:
        if isinstance(item, Paragraph):
            text = _clean(item.text)
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            match = _HEADING_STYLE.match(style.strip())
            if style == "Title":
                out.heading(text, 0)
            elif match:
                out.heading(text, int(match.group(1)))
            elif style.startswith("List") or "列表" in style:
                out.add(text, "list_item")
            else:
                out.add(text)
        elif isinstance(item, Table):
            rows += _docx_table(item, out)
            if rows > limits.max_rows:
                raise DocumentRejected(f"DOCX has more than {limits.max_rows} table rows", code="too_many_rows")
    title = None
    try:
        title = document.core_properties.title or None
    except (ValueError, KeyError, AttributeError):
        title = None
    return title or out.first_heading, out.blocks, None


def _docx_table(table: Any, out: _BlockWriter) -> int:
    grid: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # python-docx repeats a merged cell once per grid column it spans.
            if previous is not None and cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(_clean(cell.text))
        if any(cells):
            grid.append(cells)
    if not grid:
        return 0
    if len(grid) == 1:
        out.add(" | ".join(c for c in grid[0] if c), "table_row", row=1)
        return 1
    header = grid[0]
    for number, values in enumerate(grid[1:], start=2):
        out.add(_render_row(header, values), "table_row", row=number)
    return len(grid)


# --------------------------------------------------------------------------- XLSX / CSV


def _parse_xlsx(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    _check_zip(data, limits, "xlsx", "xl/workbook.xml")
    import openpyxl

    out = _BlockWriter()
    total = 0
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (KeyError, InvalidFileException, lxml)
        raise DocumentRejected(f"XLSX is corrupt or unreadable: {type(exc).__name__}: {exc}", code="corrupt") from exc
    try:
        sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
        for ws in sheets:
            if len(sheets) > 1:
                out.heading(ws.title, 1, sheet=ws.title)
            header: list[str] | None = None
            sheet_rows = 0
            for position, row in enumerate(ws.iter_rows(), start=1):
                cells = [_cell_text(c.value) for c in row]
                # The sheet row as Excel shows it (a sheet may not start at row 1).
                number = next((c.row for c in row if getattr(c, "row", None)), position)
                if not any(cells):
                    continue
                if header is None:
                    header = cells
                    continue
                total += 1
                sheet_rows += 1
                if total > limits.max_rows:
                    raise DocumentRejected(f"XLSX has more than {limits.max_rows} rows", code="too_many_rows")
                out.add(_render_row(header, cells), "table_row", row=number, sheet=ws.title)
            if header is not None and sheet_rows == 0:
                # A sheet with only a header row still says something (e.g. a list of field names).
                out.add(" | ".join(c for c in header if c), "table_row", row=1, sheet=ws.title)
    except DocumentRejected:
        raise
    except Exception as exc:  # damaged sheet XML surfaces as arbitrary exceptions
        raise DocumentRejected(f"XLSX is corrupt or unreadable: {type(exc).__name__}: {exc}", code="corrupt") from exc
    finally:
        workbook.close()
    title = None
    try:
        title = workbook.properties.title or None
    except AttributeError:
        title = None
    return title, out.blocks, None


def _parse_csv(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    text = _decode_text(data)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if _extension(filename) == "tsv" else csv.excel
    out = _BlockWriter()
    header: list[str] | None = None
    total = 0
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        for record in reader:
            cells = [_clean(c) for c in record]
            if not any(cells):
                continue
            if header is None:
                header = cells
                continue
            total += 1
            if total > limits.max_rows:
                raise DocumentRejected(f"CSV has more than {limits.max_rows} rows", code="too_many_rows")
            # line_num is the physical line the record ended on: what an editor shows.
            out.add(_render_row(header, cells), "table_row", row=reader.line_num)
    except csv.Error as exc:
        raise DocumentRejected(f"CSV is malformed: {exc}", code="corrupt") from exc
    if header is not None and total == 0:
        out.add(" | ".join(c for c in header if c), "table_row", row=1)
    return None, out.blocks, None


# --------------------------------------------------------------------------- HTML

_HTML_DROP = ["script", "style", "nav", "header", "footer", "aside", "noscript", "iframe", "form", "template", "svg"]
_HTML_BLOCK = {
    "p", "div", "section", "article", "main", "ul", "ol", "dl", "dt", "dd", "blockquote", "figure", "figcaption",
    "address", "hr", "details", "summary", "body", "center",
}  # fmt: skip
_HTML_HEADING = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def _parse_html(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    from selectolax.lexbor import LexborHTMLParser

    text = _decode_html(data)
    tree = LexborHTMLParser(text)
    title_node = tree.css_first("title")
    title = _clean(title_node.text()) if title_node is not None else None
    tree.strip_tags(_HTML_DROP)

    roots = tree.css("main") or tree.css("article") or ([tree.body] if tree.body is not None else [])
    out = _BlockWriter()
    walker = _HtmlWalker(out)
    for root in roots:
        walker.walk(root)
        walker.flush()
    return title or out.first_heading, out.blocks, None


def _decode_html(data: bytes) -> str:
    head = data[:2048].lower()
    match = re.search(rb"charset=[\"']?([a-z0-9_-]+)", head)
    if match:
        name = match.group(1).decode("ascii")
        if name in ("gbk", "gb2312", "gb18030"):
            name = "gb18030"
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    return _decode_text(data)


class _HtmlWalker:
    """Walks the DOM once, emitting a block at every block-level boundary."""

    def __init__(self, out: _BlockWriter) -> None:
        self.out = out
        self.buffer: list[str] = []

    def flush(self, kind: BlockKind = "paragraph") -> None:
        text = "\n".join(_clean(line) for line in "".join(self.buffer).split("\n"))
        self.buffer = []
        text = re.sub(r"\n{2,}", "\n", text).strip()
        if text:
            self.out.add(text, kind)

    def walk(self, node: Any) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.buffer.append(child.text(deep=False) or "")
            elif tag in _HTML_HEADING:
                self.flush()
                self.out.heading(child.text(deep=True, separator=" "), _HTML_HEADING[tag])
            elif tag == "table":
                self.flush()
                self._table(child)
            elif tag == "pre":
                self.flush()
                code = (child.text(deep=True) or "").strip("\n")
                if code.strip():
                    self.out.add(code, "code")
            elif tag == "br":
                self.buffer.append("\n")
            elif tag == "li":
                self.flush()
                self.walk(child)
                self.flush("list_item")
            elif tag in _HTML_BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
            elif tag.startswith(("-", "!")) or tag in ("img", "input", "button", "select", "head"):
                continue
            else:
                self.walk(child)

    def _table(self, table: Any) -> None:
        grid = []
        for tr in table.css("tr"):
            cells = [_clean(td.text(deep=True, separator=" ")) for td in tr.css("th, td")]
            if any(cells):
                grid.append(cells)
        if not grid:
            return
        if len(grid) == 1:
            self.out.add(" | ".join(c for c in grid[0] if c), "table_row", row=1)
            return
        for number, values in enumerate(grid[1:], start=2):
            self.out.add(_render_row(grid[0], values), "table_row", row=number)


# --------------------------------------------------------------------------- Markdown

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]+")
_TABLE_SEP = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_STRONG = re.compile(r"(\*\*|__)(.+?)\1")
_MD_EMPHASIS = re.compile(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])")


def _md_inline(text: str) -> str:
    """Keep what a reader sees: link text and image alt text, without emphasis markers."""
    text = _MD_LINK.sub(r"\1", _MD_IMAGE.sub(r"\1", text))
    return _MD_EMPHASIS.sub(r"\1", _MD_STRONG.sub(r"\2", text))


def _md_cells(line: str) -> list[str]:
    line = line.strip()
    line = line.removeprefix("|").removesuffix("|")
    return [_clean(_md_inline(c)) for c in re.split(r"(?<!\\)\|", line)]


def _parse_markdown(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    lines = _decode_text(data).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = _BlockWriter()
    title = None
    i = 0
    # YAML front matter: keep its title, skip the rest (it is metadata, not content).
    if lines and lines[0].strip() == "---":
        for j in range(1, min(len(lines), 200)):
            if lines[j].strip() in ("---", "..."):
                for meta in lines[1:j]:
                    key, _, value = meta.partition(":")
                    if key.strip().lower() == "title" and value.strip():
                        title = value.strip().strip("\"'")
                i = j + 1
                break

    paragraph: list[str] = []
    kind: BlockKind = "paragraph"

    def flush() -> None:
        nonlocal paragraph, kind
        if paragraph:
            text = "\n".join(paragraph) if kind == "list_item" else _join_lines(paragraph)
            out.add(_md_inline(text), kind)
        paragraph, kind = [], "paragraph"

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            body = [line.strip()]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker[0] * len(marker)):
                body.append(lines[i])
                i += 1
            body.append(marker)
            i += 1
            out.add("\n".join(body), "code")
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            out.heading(_md_inline(atx.group(2) or ""), len(atx.group(1)))
            i += 1
            continue
        if paragraph and kind == "paragraph" and _SETEXT.match(line):
            # A "---" under paragraph text is a setext level-2 heading, not a rule.
            text = _join_lines(paragraph)
            paragraph = []
            out.heading(_md_inline(text), 1 if stripped[0] == "=" else 2)
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
            flush()
            header = _md_cells(line)
            i += 2
            number = 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                out.add(_render_row(header, _md_cells(lines[i])), "table_row", row=number)
                number += 1
                i += 1
            continue
        if not stripped:
            flush()
        elif _HR.match(line):
            flush()
        elif _LIST_ITEM.match(line):
            flush()
            paragraph, kind = [stripped], "list_item"
        elif kind == "list_item" and line.startswith((" ", "\t")):
            paragraph.append(stripped)
        else:
            if kind == "list_item":
                flush()
            paragraph.append(line)
        i += 1
    flush()
    return title or out.first_heading, out.blocks, None


# --------------------------------------------------------------------------- TXT / JSON


def _parse_txt(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    text = _decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    out = _BlockWriter()
    for paragraph in re.split(r"\n[ \t\u3000]*\n", text):
        # Line breaks inside a paragraph are kept: in plain text they often matter (addresses, lists).
        cleaned = "\n".join(line for line in (_clean(x) for x in paragraph.split("\n")) if line)
        out.add(cleaned)
    return None, out.blocks, None


def _parse_json(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    text = _decode_text(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentRejected(
            f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", code="corrupt"
        ) from exc
    out = _BlockWriter()
    if isinstance(value, dict):
        groups: Iterable[tuple[str, Any]] = ((str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        groups = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        groups = [("", value)]
    for prefix, item in groups:
        lines = [f"{path}: {leaf}" if path else leaf for path, leaf in _flatten_json(item, prefix)]
        out.add("\n".join(lines))
    return None, out.blocks, None


def _flatten_json(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _flatten_json(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        if value and all(not isinstance(v, dict | list) for v in value):
            # A list of scalars reads best on one line: "tags: a, b, c".
            yield path, ", ".join(_json_scalar(v) for v in value)
        else:
            for index, child in enumerate(value):
                yield from _flatten_json(child, f"{path}[{index}]")
    elif value is not None and value != "":
        yield path, _json_scalar(value)


def _json_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value).strip()


_PARSERS = {
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "xlsx": _parse_xlsx,
    "csv": _parse_csv,
    "html": _parse_html,
    "markdown": _parse_markdown,
    "txt": _parse_txt,
    "json": _parse_json,
}
