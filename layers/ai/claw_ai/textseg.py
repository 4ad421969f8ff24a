"""Word segmentation for PostgreSQL full-text search with the ``simple`` configuration.

PostgreSQL's parser splits on spaces and punctuation, which leaves a run of Chinese as one
huge "word" that no query ever matches. So text is segmented here, in Python, and stored as
space-separated tokens: ``to_tsvector('simple', segment_for_search(text))``. Queries go
through ``query_terms`` with the same normalisation, so both sides agree.

Chinese runs are cut with jieba's search mode (``rjieba.cut_for_search``): a long word is
indexed together with its sub-words (中华人民共和国 → 中华, 人民, 共和国, 中华人民共和国),
so a query for any of them finds it. Other scripts are kept as words of letters and digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from claw_ai.cjk import HAN as _HAN

__all__ = ["query_terms", "segment_for_search", "tsquery_text"]

# A run of Han characters (group 1), or a word of other letters/digits (group 2: Latin, digits, kana, Cyrillic…).
_TOKEN = re.compile(rf"([{_HAN}]+)|([^\W_{_HAN}]+)")

# Full-width forms and the ideographic space, mapped to their compatibility decomposition (what
# NFKC makes of them: "，" → ",", "Ａ" → "A"). Chinese text is full of them, and one such character
# sends ``unicodedata.normalize`` down its slow path for the whole string.
_FOLD = {c: unicodedata.normalize("NFKD", c) for c in map(chr, [*range(0xFF01, 0xFF5F), 0x3000])}
_FOLD_CHARS = re.compile("[" + "".join(re.escape(c) for c in _FOLD) + "]")

# Function words that carry no meaning for keyword search. Kept small on purpose: content
# words must never be dropped, and ranking already discounts very common terms.
_STOP_WORDS = frozenset(
    """
    的 了 是 在 和 与 或 及 也 就 都 而 并 吗 呢 吧 啊 呀 么 嘛 之 其 把 被 对 于 从 向 给 让 着 过
    我 你 您 他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些 哪 哪个 哪些 什么 怎么 怎样 如何 为什么
    请 请问 一下 一个 可以 能 能否 是否 有没有 吗 要 想 需要 还 又 很 最 更 会
    a an the is are was were be been being am do does did to of in on at for by with from as and or
    but if then so not no it its this that these those there here i me my we our you your he she they
    them his her what which who whom whose why when where how can could would should will shall may
    might must please about into than too very just also any some
    """.split()
)


@lru_cache(maxsize=1)
def _cutter() -> Callable[[str], list[str]]:
    """jieba's search-mode cutter, loaded on first use (its dictionary takes ~0.1 s to load)."""
    import rjieba

    return rjieba.cut_for_search


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, faster on typical Chinese text.

    Replacing a character by its full compatibility decomposition leaves the NFKD form, and so
    the NFKC form, of the string unchanged; when the string with the full-width forms replaced is
    already in NFKC, it is therefore the NFKC of the original (otherwise the full normalisation runs).
    """
    folded = _FOLD_CHARS.sub(lambda m: _FOLD[m.group()], text)
    return folded if unicodedata.is_normalized("NFKC", folded) else unicodedata.normalize("NFKC", text)


def _normalise(text: str) -> str:
    # NFKC folds full-width letters and digits (ＡＢＣ１２３ → ABC123), common in Chinese text.
    return _nfkc(text).lower()


def _tokens(text: str) -> list[str]:
    cut = None
    out: list[str] = []
    for han, word in _TOKEN.findall(_normalise(text)):
        if word:
            out.append(word)
        else:
            cut = cut or _cutter()
            out.extend([w for w in cut(han) if w.strip()])
    return out


def segment_for_search(text: str) -> str:
    """Lower-cased, segmented text for ``to_tsvector('simple', …)``: space-joined tokens.

    Chinese is cut in search mode (words and their sub-words); other text is kept as words of
    letters and digits; punctuation is dropped.
    """
    return " ".join(_tokens(text))


def query_terms(question: str) -> list[str]:
    """Distinct search terms of a question, in order, without punctuation or function words.

    Terms contain only letters and digits, so they are safe to join into a ``tsquery``
    string (still pass that string as a query parameter). If every word is a stop word the
    words are returned anyway, so a question like "how" still searches for something.
    """
    tokens = list(dict.fromkeys(_tokens(question)))
    kept = [t for t in tokens if t not in _STOP_WORDS]
    return kept or tokens


def tsquery_text(question: str, operator: str = "|") -> str:
    """Terms joined for ``to_tsquery('simple', %s)``: ``|`` (any term, for ranking) or ``&`` (all)."""
    if operator not in ("|", "&"):
        raise ValueError("operator must be '|' or '&'")
    return f" {operator} ".join(query_terms(question))
