"""HTML: parsed (never rendered or fetched) into headings, paragraphs and table rows."""

from __future__ import annotations

import re
from typing import Any

from ingest_app.parsers.base import (
    BlockKind,
    ParseLimits,
    _BlockWriter,
    _clean,
    _decode_text,
    _ParseResult,
    _render_row,
)

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
