"""DOCX: paragraphs with heading styles, tables as rows."""

from __future__ import annotations

import io
import re
from typing import Any

from ingest_app.parsers.base import (
    DocumentRejected,
    ParseLimits,
    _BlockWriter,
    _check_zip,
    _clean,
    _ParseResult,
    _render_row,
)

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
