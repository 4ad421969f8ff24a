"""Markdown: headings, paragraphs (line structure kept), lists, code and tables."""

from __future__ import annotations

import re

from ingest_app.parsers.base import (
    BlockKind,
    ParseLimits,
    _BlockWriter,
    _clean,
    _decode_text,
    _join_kept_lines,
    _join_lines,
    _ParseResult,
    _render_row,
)

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


def _front_matter(lines: list[str]) -> tuple[str | None, int]:
    """YAML front matter: its title and the first line after it (it is metadata, not content)."""
    if not lines or lines[0].strip() != "---":
        return None, 0
    for j in range(1, min(len(lines), 200)):
        if lines[j].strip() in ("---", "..."):
            title = None
            for meta in lines[1:j]:
                key, _, value = meta.partition(":")
                if key.strip().lower() == "title" and value.strip():
                    title = value.strip().strip("\"'")
            return title, j + 1
    return None, 0


def _md_fence(lines: list[str], i: int, marker: str, out: _BlockWriter) -> int:
    """A fenced code block starting at line ``i`` as one block; the index after it."""
    body = [lines[i].strip()]
    i += 1
    while i < len(lines) and not lines[i].strip().startswith(marker[0] * len(marker)):
        body.append(lines[i])
        i += 1
    body.append(marker)
    out.add("\n".join(body), "code")
    return i + 1


def _md_table(lines: list[str], i: int, out: _BlockWriter) -> int:
    """A pipe table whose header is line ``i``: one block per row; the index after it."""
    header = _md_cells(lines[i])
    i += 2
    number = 2
    while i < len(lines) and "|" in lines[i] and lines[i].strip():
        out.add(_render_row(header, _md_cells(lines[i])), "table_row", row=number)
        number += 1
        i += 1
    return i


def _parse_markdown(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    lines = _decode_text(data).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = _BlockWriter()
    title, i = _front_matter(lines)

    paragraph: list[str] = []
    kind: BlockKind = "paragraph"

    def flush() -> None:
        nonlocal paragraph, kind
        if paragraph:
            text = "\n".join(paragraph) if kind == "list_item" else _join_kept_lines(paragraph)
            out.add(_md_inline(text), kind)
        paragraph, kind = [], "paragraph"

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(line)
        if fence:
            flush()
            i = _md_fence(lines, i, fence.group(1), out)
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
            i = _md_table(lines, i, out)
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
