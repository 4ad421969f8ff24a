"""Structure-aware chunking of parsed documents, sized in tokens.

Rules (each one is there for retrieval quality, measured with ``make eval``):

* Every chunk starts with a line naming the document and its heading path
  (``云帆智能用户服务协议 > 第一条 定义``): the embedding and the keyword index both see
  which document and section a passage belongs to, so two versions of a price list or two
  FAQs with similar answers stay apart.
* A heading of level ≤ 2, an FAQ question line, a numbered clause (第一条, Article 3) or a
  new PDF page starts a new chunk, so one chunk never mixes two sections, questions or clauses, unless
  the chunk so far is a stub (under ``min_tokens``): then the heading stays in it as a line
  of its own, and an intro is never a chunk on its own. A stub left at the end of a section
  joins the chunk before it when they fit together.
* Paragraphs are packed up to ``max_tokens`` (heading line included). A paragraph too long
  for one chunk is split on its lines first (a clause ``1.1 …`` or a list line stays whole),
  then on sentence ends (Chinese 。！？；…, English . ! ? before a space), and a sentence
  that is still too long is cut by tokens as a last resort.
* Consecutive text chunks of one section overlap by whole tail sentences of the previous
  chunk, up to ``overlap_tokens``, so an answer that straddles a boundary is still found.
* Table rows (``Header: value; …``) are grouped several per chunk and never split, except
  a single row that alone exceeds the budget (it is cut between cells).

Token counting is injected (default: ``text_split.default_token_counter``). Output is
deterministic for a given input and counter, and the time is linear in the input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ingest_app.parsers import Block, ParsedDocument
from ingest_app.text_split import (
    TokenCounter,
    default_token_counter,
    estimate_tokens,
    hard_split,
    sentences_with_gaps,
    split_row,
    split_sentences,
)

__all__ = ["Chunk", "chunk_document", "default_token_counter", "estimate_tokens", "split_sentences"]

# A heading at this level or above closes the current chunk (unless it is a stub).
SECTION_LEVEL = 2
MIN_CHUNK_TOKENS = 64
"""A chunk body smaller than this is a stub: it takes the next section in, or joins the previous chunk."""
_HEADING_SEPARATOR = " > "
_PARAGRAPH_JOINER = "\n"
_ROW_JOINER = "\n"
# A line that opens a unit of its own: an FAQ question, or a numbered article or clause.
_QUESTION_LINE = re.compile(r"^(?:Q\d*\s*[:：.]|问\s*[:：]|问题\s*\d*\s*[:：]).{2,}|^.{2,120}[?？]$", re.IGNORECASE)
_CLAUSE_LINE = re.compile(r"^(?:第[一二三四五六七八九十百零〇\d]+[条章节款]|(?:Article|Section|Clause)\s+\d+)")


@dataclass(slots=True)
class Chunk:
    """One retrievable passage.

    ``text`` is what is embedded and indexed (the title and heading path line first);
    ``token_count`` is counted on that exact text. ``page``/``row``/``sheet`` locate the
    chunk's first block; ``metadata`` carries ``kind`` ("text" | "table"), ``page_end``/
    ``row_end`` when the chunk spans several, and ``overlap_tokens`` taken from the previous chunk.
    """

    index: int
    text: str
    token_count: int
    heading_path: list[str]
    page: int | None = None
    row: int | None = None
    sheet: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Piece:
    """A unit of text and the separator that goes before it when it follows another piece."""

    text: str
    sep: str
    tokens: int


@dataclass(slots=True)
class _Unit:
    """A packable unit: one line, sentence group, paragraph or table row, with where it came from."""

    text: str
    sep: str
    tokens: int
    block: Block
    sentences: list[_Piece] | None = None  # for overlap: the unit's sentences


@dataclass(slots=True)
class _Draft:
    heading_path: list[str]
    kind: str
    units: list[_Unit] = field(default_factory=list)
    tokens: int = 0
    overlap: list[_Piece] = field(default_factory=list)
    overlap_tokens: int = 0

    def body_tokens(self) -> int:
        return self.tokens - self.overlap_tokens


@dataclass(slots=True)
class _Emitted:
    chunk: Chunk
    body: str
    body_tokens: int


def opens_unit(block: Block) -> bool:
    """A paragraph that starts a unit of its own: an FAQ question or a numbered clause."""
    first = block.text.lstrip().split("\n", 1)[0].strip()
    return bool(_CLAUSE_LINE.match(first) or (_QUESTION_LINE.match(first) and "\n" not in block.text.strip()))


class _Chunker:
    def __init__(self, max_tokens: int, overlap_tokens: int, count: TokenCounter, file_type: str, title: str) -> None:
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.min_tokens = min(MIN_CHUNK_TOKENS, max_tokens // 4)
        self.count = count
        self.file_type = file_type
        self.title = " ".join(title.split())
        self.emitted: list[_Emitted] = []
        self.draft: _Draft | None = None
        self._prefix_cache: dict[tuple[str, ...], tuple[str, int]] = {}

    # -- heading line
    def prefix(self, path: Sequence[str]) -> tuple[str, int]:
        """The title and heading line and its token cost (newline included), capped at a quarter of the budget."""
        key = tuple(path)
        if key not in self._prefix_cache:
            parts = [p for p in path if p]
            if self.title and (not parts or parts[0] != self.title):
                parts.insert(0, self.title)
            line = _HEADING_SEPARATOR.join(parts)
            cap = max(self.max_tokens // 4, 1)
            # Drop middle headings first: the title and the nearest heading say the most.
            while len(parts) > 2 and self.count(line) > cap:
                del parts[1]
                line = _HEADING_SEPARATOR.join(parts)
            if line and self.count(line) > cap:
                line = hard_split(line, cap, self.count)[0]
            cost = self.count(line + "\n") if line else 0
            self._prefix_cache[key] = (line, cost)
        return self._prefix_cache[key]

    def budget(self, path: Sequence[str]) -> int:
        return self.max_tokens - self.prefix(path)[1]

    def is_stub(self) -> bool:
        return self.draft is not None and self.draft.kind == "text" and self.draft.body_tokens() < self.min_tokens

    # -- feeding blocks
    def feed(self, blocks: Sequence[Block]) -> None:
        for block in blocks:
            if block.kind == "heading":
                self.heading(block)
                continue
            last = self.draft.units[-1].block if self.draft is not None and self.draft.units else None
            if last is not None and (
                block.sheet != last.sheet
                or (block.kind == "table_row" and last.kind == "table_row" and (block.row or 0) <= (last.row or 0))
            ):
                # Another worksheet or another table (its row numbers restart).
                self.flush()
            if block.kind == "table_row":
                self.add_row(block)
                continue
            new_page = last is not None and block.page is not None and block.page != last.page
            if (opens_unit(block) or new_page) and self.draft is not None and self.draft.units and not self.is_stub():
                # A question, a clause or a new page (PDF text is extracted page by page) starts a chunk.
                self.flush()
            self.add_text(block, block.text)
        self.flush()

    def heading(self, block: Block) -> None:
        has_units = self.draft is not None and bool(self.draft.units)
        if block.level <= SECTION_LEVEL or (self.draft is not None and self.draft.kind == "table"):
            if has_units and self.is_stub():
                # A stub (an intro, a one-line section) keeps the next section: the heading becomes a line.
                self.add_text(block, block.text)
            else:
                # A new section, or a sub-heading between tables: the next chunk carries its path.
                self.flush()
        elif has_units:
            # A deeper heading inside running text stays in the chunk as a line of its own.
            self.add_text(block, block.text)

    def start(self, block: Block, kind: str) -> _Draft:
        if self.draft is None or not self.draft.units:
            self.draft = _Draft(heading_path=list(block.heading_path), kind=kind, overlap=[], overlap_tokens=0)
        elif self.draft.kind != kind:
            self.flush()
            self.draft = _Draft(heading_path=list(block.heading_path), kind=kind)
        return self.draft

    def add_row(self, block: Block) -> None:
        draft = self.start(block, "table")
        budget = self.budget(draft.heading_path)
        tokens = self.count(block.text)
        if tokens > budget:
            self.flush()
            for part in split_row(block.text, budget, self.count):
                self.draft = _Draft(heading_path=list(block.heading_path), kind="table")
                self.draft.units.append(_Unit(part, "", self.count(part), block))
                self.draft.tokens = self.draft.units[0].tokens
                self.flush(extra={"row_split": True})
            return
        needed = tokens + (1 if draft.units else 0)
        if draft.units and draft.tokens + needed > budget:
            self.flush()
            draft = self.start(block, "table")
            needed = tokens
        draft.units.append(_Unit(block.text, _ROW_JOINER if draft.units else "", tokens, block))
        draft.tokens += needed

    def add_text(self, block: Block, text: str) -> None:
        draft = self.start(block, "text")
        budget = self.budget(draft.heading_path)
        tokens = self.count(text)
        if tokens <= budget:
            units = [_Unit(text, _PARAGRAPH_JOINER, tokens, block)]
        else:
            # Too long for one chunk: pack its lines (clauses, list lines) whole, else their sentences.
            units = []
            for line in (x.strip() for x in text.split("\n")):
                if line:
                    units.extend(self._line_units(line, block, budget))
        for unit in units:
            self._push_text(unit)

    def _line_units(self, line: str, block: Block, budget: int) -> list[_Unit]:
        n = self.count(line)
        if n <= budget:
            return [_Unit(line, _PARAGRAPH_JOINER, n, block)]
        units: list[_Unit] = []
        for i, (sentence, gap) in enumerate(sentences_with_gaps(line)):
            sep = _PARAGRAPH_JOINER if i == 0 else gap
            n = self.count(sentence)
            if n <= budget:
                units.append(_Unit(sentence, sep, n, block))
                continue
            for j, part in enumerate(hard_split(sentence, budget, self.count)):
                units.append(_Unit(part, sep if j == 0 else "", self.count(part), block))
        return units

    def _push_text(self, unit: _Unit) -> None:
        draft = self.start(unit.block, "text")
        budget = self.budget(draft.heading_path)
        sep_cost = 1 if (draft.units or draft.overlap) and unit.sep else 0
        if draft.units and draft.tokens + sep_cost + unit.tokens > budget:
            tail = self._tail_sentences(draft)
            self.flush()
            draft = self.start(unit.block, "text")
            self._apply_overlap(draft, tail, unit.tokens, budget)
            sep_cost = 1 if draft.overlap and unit.sep else 0
        draft.units.append(unit)
        draft.tokens += sep_cost + unit.tokens

    def _tail_sentences(self, draft: _Draft) -> list[_Piece]:
        """Whole sentences from the end of the chunk, up to ``overlap_tokens``."""
        if self.overlap_tokens <= 0:
            return []
        tail: list[_Piece] = []
        total = 0
        for unit in reversed(draft.units):
            if unit.sentences is None:
                # Computed only here: most units never donate overlap.
                found = sentences_with_gaps(unit.text)
                unit.sentences = [_Piece(s, unit.sep if i == 0 else g, self.count(s)) for i, (s, g) in enumerate(found)]
            for piece in reversed(unit.sentences):
                cost = piece.tokens + (1 if tail else 0)
                if total + cost > self.overlap_tokens:
                    return tail
                tail.insert(0, piece)
                total += cost
        return tail

    def _apply_overlap(self, draft: _Draft, tail: list[_Piece], next_tokens: int, budget: int) -> None:
        # Drop overlap from the front until the next unit still fits after it.
        while tail and sum(p.tokens + 1 for p in tail) + next_tokens > budget:
            tail = tail[1:]
        draft.overlap = tail
        draft.overlap_tokens = sum(p.tokens for p in tail) + max(len(tail) - 1, 0)
        draft.tokens = draft.overlap_tokens

    # -- emitting
    def flush(self, extra: dict[str, Any] | None = None) -> None:
        draft, self.draft = self.draft, None
        if draft is None or not draft.units:
            return
        line, _ = self.prefix(draft.heading_path)
        pieces: list[tuple[str, str]] = [(p.text, p.sep) for p in draft.overlap]
        pieces += [(u.text, u.sep) for u in draft.units]
        body = _join(pieces)
        text = f"{line}\n{body}" if line else body
        tokens = self.count(text)
        # The packing used per-piece counts; BPE merges can make the whole differ slightly.
        # Move trailing units to the next chunk until the exact count fits.
        if tokens > self.max_tokens and (len(draft.units) > 1 or draft.overlap):
            self._refit(draft, extra)
            return
        first, last = draft.units[0].block, draft.units[-1].block
        metadata: dict[str, Any] = {"kind": draft.kind, "file_type": self.file_type}
        if last.page is not None and last.page != first.page:
            metadata["page_end"] = last.page
        if last.row is not None and last.row != first.row:
            metadata["row_end"] = last.row
        if draft.overlap:
            metadata["overlap_tokens"] = draft.overlap_tokens
        if extra:
            metadata.update(extra)
        chunk = Chunk(
            index=len(self.emitted),
            text=text,
            token_count=tokens,
            heading_path=list(draft.heading_path),
            page=first.page,
            row=first.row,
            sheet=first.sheet,
            metadata=metadata,
        )
        self.emitted.append(_Emitted(chunk, body, draft.body_tokens()))

    def _refit(self, draft: _Draft, extra: dict[str, Any] | None) -> None:
        if draft.overlap:
            draft.overlap = draft.overlap[1:]
            self.draft = draft
            self.flush(extra)
            return
        carry = draft.units.pop()
        draft.tokens -= carry.tokens
        self.draft = draft
        self.flush(extra)
        self.draft = _Draft(heading_path=draft.heading_path, kind=draft.kind)
        self.draft.units.append(carry)
        self.draft.tokens = carry.tokens
        self.flush(extra)

    # -- stubs left over
    def merge_stubs(self) -> list[Chunk]:
        """Join each remaining text stub to the chunk before it when both fit in one chunk."""
        out: list[_Emitted] = []
        for item in self.emitted:
            previous = out[-1] if out else None
            if previous is not None and self._joinable(previous, item):
                out[-1] = self._joined(previous, item)
            else:
                out.append(item)
        for i, item in enumerate(out):
            item.chunk.index = i
        return [item.chunk for item in out]

    def _joinable(self, previous: _Emitted, item: _Emitted) -> bool:
        a, b = previous.chunk, item.chunk
        return (
            item.body_tokens < self.min_tokens
            and a.metadata.get("kind") == b.metadata.get("kind") == "text"
            and a.sheet == b.sheet
            and a.page == b.page
            and a.heading_path[:1] == b.heading_path[:1]
            and a.token_count + b.token_count <= self.max_tokens
        )

    def _joined(self, previous: _Emitted, item: _Emitted) -> _Emitted:
        a, b = previous.chunk, item.chunk
        # The stub's own heading (where it differs from the previous chunk's) becomes a line.
        own = [h for i, h in enumerate(b.heading_path) if i >= len(a.heading_path) or a.heading_path[i] != h]
        body = "\n".join([previous.body, *own[-1:], item.body])
        line, _ = self.prefix(a.heading_path)
        text = f"{line}\n{body}" if line else body
        chunk = Chunk(a.index, text, self.count(text), a.heading_path, a.page, a.row, a.sheet, dict(a.metadata))
        if b.page is not None and b.page != a.page:
            chunk.metadata["page_end"] = b.page
        return _Emitted(chunk, body, previous.body_tokens + item.body_tokens)


def _join(pieces: Sequence[tuple[str, str]]) -> str:
    out: list[str] = []
    for i, (text, sep) in enumerate(pieces):
        if i:
            out.append(sep if sep else "")
        out.append(text)
    return "".join(out)


def chunk_document(
    doc: ParsedDocument,
    *,
    max_tokens: int = 400,
    overlap_tokens: int = 60,
    count_tokens: TokenCounter | None = None,
    title: str | None = None,
) -> list[Chunk]:
    """Split a parsed document into chunks of at most ``max_tokens`` tokens (title and heading line included).

    ``title`` names the document in every chunk's first line (default: the parsed title).
    ``overlap_tokens`` must be smaller than half of ``max_tokens``; ``count_tokens`` defaults
    to ``default_token_counter()``. The same input always gives the same chunks.
    """
    if max_tokens < 16:
        raise ValueError("max_tokens must be at least 16")
    if not 0 <= overlap_tokens < max_tokens // 2:
        raise ValueError("overlap_tokens must be >= 0 and less than half of max_tokens")
    count = count_tokens or default_token_counter()
    chunker = _Chunker(max_tokens, overlap_tokens, count, doc.file_type, title if title is not None else doc.title)
    chunker.feed(doc.blocks)
    if not chunker.emitted:
        # A document made only of headings still has text worth finding.
        headings = [b for b in doc.blocks if b.kind == "heading"]
        if headings:
            plain = [Block(b.text, "paragraph", 0, [], b.page, b.row, b.sheet) for b in headings]
            chunker.feed(plain)
    return chunker.merge_stubs()
