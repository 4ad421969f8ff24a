"""The keyword side of search: which of the question's terms a passage holds, weighted by IDF.

A keyword score of a passage is the share of the question's IDF weight it contains
(``Σ idf(term in passage) / Σ idf(term in question)``, 0…1). Unlike ``ts_rank_cd`` it does
not grow with repetitions or passage length (length-normalised by construction), and it is
comparable across questions, so it can be added to a cosine with a fixed weight. A term the
knowledge base has never seen gets the highest IDF: a question about something the knowledge
base lacks then scores low everywhere, which is what the relevance threshold needs.

IDF is BM25's ``ln(1 + (N − df + 0.5) / (df + 0.5))`` over the searched knowledge bases'
chunks. Single Han characters are left out of the keyword terms when the question has longer
ones (不, 有, 用 … match most chunks and say nothing about the topic).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from claw_ai.cjk import is_single_han
from claw_ai.textseg import query_terms

__all__ = ["KeywordScorer", "keyword_terms"]


def keyword_terms(question: str) -> list[str]:
    """The question's terms for the keyword side (letters and digits only: safe in a tsquery)."""
    terms = query_terms(question)
    longer = [t for t in terms if not is_single_han(t)]
    return longer or terms


def idf(document_frequency: int, total: int) -> float:
    """BM25's IDF (always > 0)."""
    return math.log(1.0 + (total - document_frequency + 0.5) / (document_frequency + 0.5))


@dataclass(frozen=True, slots=True)
class KeywordScorer:
    """Scores passages by the share of the question's IDF weight they contain."""

    terms: tuple[str, ...]
    weights: Mapping[str, float]

    @classmethod
    def build(cls, terms: Iterable[str], document_frequency: Mapping[str, int], total: int) -> KeywordScorer:
        """IDF weights from the knowledge bases' statistics (``total`` chunks; unseen terms weigh most)."""
        terms = tuple(dict.fromkeys(terms))
        total = max(total, 1)
        return cls(terms, {t: idf(document_frequency.get(t, 0), total) for t in terms})

    def score(self, matched: Iterable[str]) -> float:
        """Share (0…1) of the question's IDF weight carried by the ``matched`` terms."""
        whole = sum(self.weights.values())
        if whole <= 0:
            return 0.0
        return sum(self.weights.get(t, 0.0) for t in set(matched)) / whole
