"""Metric functions of the evaluation: pure, so the unit tests can pin them down.

A *ranking* is the list of relevance flags of the returned sources, best first
(``[False, True, False]``: the second source is a hit). Relevance is judged at passage
level by the caller (``dataset.is_relevant``), never by chunk id.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence


def normalise(text: str) -> str:
    """The form facts are compared in: NFKC (full-width → ASCII), lower case, no whitespace.

    Removing whitespace makes "15 天" match "15天" and survives the chunker or a parser
    joining or splitting lines; NFKC makes "（" match "(" and "m³" match "m3".
    """
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def contains_fact(text: str | None, fact: str) -> bool:
    """True when ``fact`` appears in ``text`` after normalisation on both sides."""
    if not text:
        return False
    return normalise(fact) in normalise(text)


def first_hit_rank(ranking: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant source, or None when none is relevant."""
    for i, relevant in enumerate(ranking, start=1):
        if relevant:
            return i
    return None


def hit_at_k(ranking: Sequence[bool], k: int) -> float:
    """1.0 when a relevant source is among the first ``k``, else 0.0."""
    rank = first_hit_rank(ranking)
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(ranking: Sequence[bool]) -> float:
    """1 / rank of the first relevant source (0 when there is none): MRR's per-question term."""
    rank = first_hit_rank(ranking)
    return 0.0 if rank is None else 1.0 / rank


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, None for an empty list (a table shows "—" rather than a made-up 0)."""
    return sum(values) / len(values) if values else None


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """Area under the ROC curve: P(score of a random positive > a random negative), ties ½.

    Here positives are answerable questions and negatives unanswerable ones, scored by the
    top source's score (0 when nothing came back): 0.5 is chance, 1.0 a perfect threshold.
    Exact pairwise count (the sets are small); None when either side is empty.
    """
    if not positives or not negatives:
        return None
    wins = 0.0
    for p in positives:
        for n in negatives:
            if p > n:
                wins += 1.0
            elif p == n:
                wins += 0.5
    return wins / (len(positives) * len(negatives))


def best_threshold(positives: Sequence[float], negatives: Sequence[float], max_positive_loss: float = 0.05) -> dict:
    """The highest score threshold that drops at most ``max_positive_loss`` of the positives.

    Returns the threshold with how many negatives (unanswerable) and positives (answerable)
    fall below it, i.e. would return no sources. Used to judge whether a plain score
    threshold could meet "≥ 4 of 12 unanswerable refused, ≤ 5 % answerable refused".
    """
    if not positives:
        return {"threshold": None, "negatives_refused": 0, "positives_refused": 0}
    allowed = int(max_positive_loss * len(positives))
    ordered = sorted(positives)
    threshold = ordered[allowed]  # scores strictly below it are refused: at most `allowed` positives
    return {
        "threshold": threshold,
        "negatives_refused": sum(1 for n in negatives if n < threshold),
        "positives_refused": sum(1 for p in positives if p < threshold),
    }
