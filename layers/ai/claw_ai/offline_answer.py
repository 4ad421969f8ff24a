"""The offline answerer: quotes the sentences of the retrieved passages that answer the question.

Used when no language model is configured (``offline-extractive``). It does not pretend to
be a model: it says so, then quotes up to three sentences with their ``[n]`` citations.

How sentences are chosen (each rule came from reading answers that missed the fact):

* a passage's first line is its heading path (the chunker puts it there): never quoted, and
  no heading-like line (short, no sentence punctuation, no figures) is quoted on its own;
* an FAQ question line that matches the question is answered by the line that follows it;
* a sentence scores by the question's terms it holds (CJK bigrams, words, codes and numbers;
  codes and long words weigh more), plus its cosine with the question under the deployment's
  embedder when there is one (the offline model is multilingual, so an English question
  finds the Chinese sentence that answers it), plus a bonus for figures when the question
  asks how much, how long or when, plus a small prior for better-ranked passages;
* when no sentence shares a term with the question (a cross-lingual question, say), the
  retrieved passages are still the best evidence: the best-ranked passage's leading
  sentences are quoted, never "no material" next to a citation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from typing import Any, Protocol

from claw_ai.cjk import CJK_RUN, has_cjk
from claw_ai.embeddings import dot
from claw_ai.llm import stream_pieces
from claw_ai.messages import ChatMessage, Completion, Passage, StreamDelta, StreamEvent, Usage
from claw_ai.tokens import count_messages, count_tokens

__all__ = ["MAX_QUOTES", "OFFLINE_MODEL", "OfflineProvider"]

OFFLINE_MODEL = "offline-extractive"
"""The ``model`` every offline answer names, so clients and usage records can tell it apart."""

MAX_QUOTES = 3
MAX_QUOTE_CHARS = 240
MAX_PASSAGES = 3
"""Sentences are taken from the best-ranked passages only: lower ones rarely hold the answer."""
SEMANTIC_WEIGHT = 4.0
"""Weight of the question–sentence cosine next to the shared-term score (a cosine is 0…1)."""
SEMANTIC_FLOOR = 0.3
"""A sentence sharing no term with the question is quoted only from this cosine up."""


class Embedding(Protocol):
    """What the answerer needs of an embedder: L2-normalised vectors, in order."""

    def embed(self, texts: Sequence[str]) -> Sequence[Any]: ...


_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_DIGIT = re.compile(r"\d")
# Sentence ends: Chinese/full-width punctuation right away; ASCII . ! ? only before whitespace,
# so "3.5" and "a.b.com" stay whole; line breaks always. "; " separates table cells, not sentences.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])|(?<=[.!?])(?=\s)|\n+")
_QUESTION_END = re.compile(r"[?？]\s*$")
_SENTENCE_PUNCT = re.compile(r"[。！？；.!?:：,，]")
_ASKS_FIGURE = re.compile(
    r"多少|多久|多长|几|何时|什么时候|哪天|日期|价格|费用|电话|邮箱|"
    r"\bhow (much|many|long|soon|often)\b|\bwhen\b|\bprice\b|\bcost\b|\bfee\b|\bnumber\b|\bdate\b|\bphone\b|\bemail\b",
    re.IGNORECASE,
)

_EN_STOP = frozenset(
    "a an and are as at be but by can could do does for from had has have how i if in into is it its me my "
    "of on or our please should so tell that the their them then there these they this to was we were what "
    "when where which who why will with would you your".split()
)
# Question words and particles that say nothing about the topic (as CJK bigrams).
_ZH_STOP = frozenset(
    {
        "什么",
        "怎么",
        "如何",
        "哪些",
        "哪个",
        "为什",
        "是否",
        "请问",
        "一下",
        "我们",
        "你们",
        "可以",
        "吗？",
        "多少",
        "有没",
        "没有",
    }
)


def _terms(text: str) -> dict[str, float]:
    """Lexical terms with weights: CJK bigrams (a lone character as itself), words, codes and numbers."""
    terms: dict[str, float] = {}
    for run in CJK_RUN.findall(text):
        if len(run) == 1:
            terms[run] = 0.5
        for i in range(len(run) - 1):
            terms[run[i : i + 2]] = 1.0
    for word in _WORD.findall(CJK_RUN.sub(" ", text)):
        word = word.lower()
        if word in _EN_STOP or (len(word) == 1 and not word.isdigit()):
            continue
        # Codes and figures (E102, 2025, 15) identify an answer better than any common word.
        terms[word] = 2.0 if _DIGIT.search(word) else (1.5 if len(word) >= 5 else 1.0)
    return {t: w for t, w in terms.items() if t not in _ZH_STOP}


def _lines(text: str) -> list[str]:
    parts = (" ".join(part.split()) for part in _SENTENCE_END.split(text))
    return [p.lstrip("-*•#> ").strip() for p in parts if len(p.strip("-*•#> ")) > 1]


def _heading_like(sentence: str) -> bool:
    """A bare heading or label: short, without sentence punctuation or figures."""
    return len(sentence) <= 30 and not _SENTENCE_PUNCT.search(sentence) and not _DIGIT.search(sentence)


def _shorten(sentence: str) -> str:
    return sentence if len(sentence) <= MAX_QUOTE_CHARS else sentence[: MAX_QUOTE_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    rank: int  # the passage's position in the context, 1-based
    position: int
    text: str


def _body_lines(passage: Passage) -> list[str]:
    lines = _lines(passage.text)
    if len(lines) < 2:
        return lines
    first = lines[0]
    # The chunker's heading line (title > section) comes first: it says where, not what.
    if " > " in first or _heading_like(first) or first in passage.title:
        return lines[1:]
    return lines


@dataclass(frozen=True, slots=True)
class _Line:
    rank: int
    position: int
    asked: str  # the line scored against the question (an FAQ question, or the sentence itself)
    quote: str  # what would be quoted


def _lines_of(context: Sequence[Passage]) -> list[_Line]:
    out: list[_Line] = []
    seen: set[str] = set()
    for rank, passage in enumerate(context[:MAX_PASSAGES], start=1):
        lines = _body_lines(passage)
        for position, line in enumerate(lines):
            quote = line
            if _QUESTION_END.search(line) and position + 1 < len(lines):
                # An FAQ question: its answer is the next line.
                quote = lines[position + 1]
            if quote in seen or _heading_like(quote) or _QUESTION_END.search(quote):
                continue
            seen.add(quote)
            out.append(_Line(rank, position, line, quote))
    return out


def _semantic(question: str, lines: list[_Line], embedder: Embedding | None) -> list[float]:
    """Cosine of the question and each line (zeros without an embedder): works across languages."""
    if embedder is None or not lines:
        return [0.0] * len(lines)
    texts = [line.asked if line.asked == line.quote else f"{line.asked} {line.quote}" for line in lines]
    vectors = embedder.embed([question, *texts])
    return [dot(vectors[0], v) for v in vectors[1:]]


def _candidates(question: str, context: Sequence[Passage], embedder: Embedding | None = None) -> list[_Candidate]:
    wanted = _terms(question)
    figure = bool(_ASKS_FIGURE.search(question))
    lines = _lines_of(context)
    similarity = _semantic(question, lines, embedder)
    out: list[_Candidate] = []
    for line, cosine in zip(lines, similarity, strict=True):
        overlap = sum(w for t, w in _terms(line.asked).items() if t in wanted)
        if line.asked != line.quote:
            overlap += 0.5 * sum(w for t, w in _terms(line.quote).items() if t in wanted)
        if overlap <= 0 and cosine < SEMANTIC_FLOOR:
            continue
        score = overlap + SEMANTIC_WEIGHT * cosine + 1.0 / (line.rank + 1)
        if figure and _DIGIT.search(line.quote):
            score += 1.0
        out.append(_Candidate(score, line.rank, line.position, line.quote))
    return out


def _lead(context: Sequence[Passage]) -> list[_Candidate]:
    """The best-ranked passage's first informative sentences (nothing else related to the question)."""
    for rank, passage in enumerate(context, start=1):
        lines = [s for s in _body_lines(passage) if not _heading_like(s) and not _QUESTION_END.search(s)]
        if lines:
            return [_Candidate(0.0, rank, i, s) for i, s in enumerate(lines[:2])]
    return []


class OfflineProvider:
    """An extractive answerer for running without a language model (see the module docstring)."""

    def __init__(self, *, max_quotes: int = MAX_QUOTES, embedder: Callable[[], Embedding | None] | None = None) -> None:
        self.max_quotes = max_quotes
        self._embedder_factory = embedder

    @cached_property
    def embedder(self) -> Embedding | None:
        """The sentence embedder, built on first use (the offline model takes ~1 s to load)."""
        return self._embedder_factory() if self._embedder_factory is not None else None

    def answer_text(self, question: str, context: Sequence[Passage] | None) -> str:
        """The extractive answer to ``question`` from ``context`` (no I/O, deterministic)."""
        chinese = has_cjk(question)
        passages = list(context or ())
        found = _candidates(question, passages, self.embedder)
        best = sorted(found, key=lambda c: (-c.score, c.rank, c.position))[: self.max_quotes] or _lead(passages)
        if not best:
            if chinese:
                return "未配置语言模型，也没有可供参考的知识库资料，因此无法回答。"
            return "No language model is configured and there are no knowledge base sources to answer from."
        if chinese:
            lines = ["未配置语言模型，以下为与问题最相关的资料原文摘录（离线提取）："]
            lines += [f"- 「{_shorten(c.text)}」[{c.rank}]" for c in best]
        else:
            lines = ["No language model is configured; these are the source excerpts most relevant to your question:"]
            lines += [f'- "{_shorten(c.text)}" [{c.rank}]' for c in best]
        return "\n".join(lines)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        context: Sequence[Passage] | None = None,
        deadline_s: float | None = None,
    ) -> Completion:
        """Answer extractively from ``context``; ``model``, ``temperature``, ``max_tokens`` do not apply."""
        started = time.monotonic()
        question = next((m.content for m in reversed(messages) if m.role == "user"), "")
        text = self.answer_text(question, context)
        usage = Usage.of(count_messages(messages), count_tokens(text))
        return Completion(text, OFFLINE_MODEL, usage, "stop", max(0, round((time.monotonic() - started) * 1000)))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        context: Sequence[Passage] | None = None,
        deadline_s: float | None = None,
    ) -> Iterator[StreamEvent]:
        """The same answer as :meth:`complete`, in pieces of a few characters or a word."""
        completion = self.complete(messages, model=model, context=context)
        for piece in stream_pieces(completion.content):
            yield StreamDelta(piece)
        yield completion


@lru_cache(maxsize=2)
def offline_provider(embed_function: str | None = None) -> OfflineProvider:
    """The process's offline answerer. It scores sentences with the offline multilingual model,
    in this process where its layer is installed (loaded on first use), else in the embed
    function ``embed_function``; with neither, by shared words only."""
    from claw_ai.remote_embedder import offline_embedder

    return OfflineProvider(embedder=partial(offline_embedder, embed_function))
