"""Plain text and JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ingest_app.parsers.base import (
    _LINE_END,
    DocumentRejected,
    ParseLimits,
    _BlockWriter,
    _clean,
    _decode_text,
    _ParseResult,
)

# --------------------------------------------------------------------------- TXT / JSON


HEADING_MAX_CHARS = 40


def _heading_like(line: str) -> bool:
    """A short line without sentence punctuation that names what follows (``一、产品参数``, ``2. Distance``)."""
    return len(line) <= HEADING_MAX_CHARS and not _LINE_END.search(line) and "，" not in line and ", " not in line


def _parse_txt(data: bytes, filename: str, limits: ParseLimits) -> _ParseResult:
    """Plain text: paragraphs split on blank lines, line breaks inside them kept.

    A first paragraph that is one short line is the title; a paragraph whose first line is
    a short label (``一、产品参数``, ``2. Distance``, ``Encryption``) followed by text makes
    that line a section heading, so each section is chunked on its own.
    """
    text = _decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    out = _BlockWriter()
    title: str | None = None
    for n, paragraph in enumerate(re.split(r"\n[ \t\u3000]*\n", text)):
        lines = [line for line in (_clean(x) for x in paragraph.split("\n")) if line]
        if not lines:
            continue
        if n == 0 and len(lines) == 1 and _heading_like(lines[0]):
            title = lines[0]
            out.heading(title, 1)
            continue
        if len(lines) > 1 and _heading_like(lines[0]):
            out.heading(lines[0], 2)
            lines = lines[1:]
        # Line breaks inside a paragraph are kept: in plain text they often matter (addresses, lists).
        out.add("\n".join(lines))
    return title, out.blocks, None


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
