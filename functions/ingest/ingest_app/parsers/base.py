"""What every parser shares: blocks, limits, rejections, and text helpers."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Literal

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


# A line that starts something of its own: a numbered clause (1.1, 第一条, Article 3), a
# question or answer (Q:, 问：), a list-like label. Its line break is kept.
_LINE_START = re.compile(
    r"^(?:\d+(?:\.\d+)+\s|\d+[.、)）]\s*|第[一二三四五六七八九十百零〇\d]+[条章节款]|[一二三四五六七八九十]+、"
    r"|(?:Article|Section|Clause)\s+\d+|[QA]\d*\s*[:：.]|[问答]\s*[:：]|[（(][一二三四五六七八九十\d]+[)）])",
    re.IGNORECASE,
)
_LINE_END = re.compile(r"[。！？；：.!?;:）)」”]$")


def _join_kept_lines(lines: Iterable[str]) -> str:
    """Join a paragraph's lines, keeping the line breaks that carry structure.

    A break stays when the line before ends a sentence or the next line opens a clause, a
    question or a numbered item; other breaks are soft wraps and are joined as prose.
    """
    kept: list[list[str]] = []
    for raw in lines:
        line = _clean(raw)
        if not line:
            continue
        if kept and not _LINE_END.search(kept[-1][-1]) and not _LINE_START.match(line):
            kept[-1].append(line)
        else:
            kept.append([line])
    return "\n".join(_join_lines(group) for group in kept)


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
