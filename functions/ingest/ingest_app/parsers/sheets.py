"""XLSX and CSV: one block per row, rendered with its header."""

from __future__ import annotations

import csv
import io
from typing import Any

from ingest_app.parsers.base import (
    DocumentRejected,
    ParseLimits,
    _BlockWriter,
    _cell_text,
    _check_zip,
    _clean,
    _decode_text,
    _ParseResult,
    _render_row,
)
from ingest_app.parsers.detect import _extension

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
