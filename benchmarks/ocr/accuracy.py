"""Character accuracy (1 − CER) of OCR output against ground truth, per language.

Both texts are normalised the same way first: NFKC (full-width ``，`` and ``,`` count as the
same character: retrieval does not care), whitespace collapsed to one space, and spaces next
to a CJK character dropped (Chinese has no spaces; an OCR engine may or may not insert one
between ``代码`` and ``E1023``). Lines are joined with a space, in reading order.

The page is aligned as one string (Levenshtein with a backtrace), so a line that the engine
splits in two or merges with its neighbour costs only the characters that really differ.
Each edit is charged to the language of the ground-truth row it falls in, which gives a
Chinese and an English accuracy from the same alignment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}]) | (?=[{_CJK}])| (?=[,.;:!?])")
_IS_CJK = re.compile(rf"[{_CJK}]")


def normalise(text: str) -> str:
    """NFKC, one space for any whitespace run, no spaces beside CJK characters or before punctuation."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
    return _SPACE_NEAR_CJK.sub("", text)


def _distance_matrix(reference: str, hypothesis: str) -> np.ndarray:
    """Full Levenshtein matrix, one numpy row at a time (insertions via a running minimum)."""
    ref = np.frombuffer(reference.encode("utf-32-le"), dtype=np.uint32)
    hyp = np.frombuffer(hypothesis.encode("utf-32-le"), dtype=np.uint32)
    rows, cols = len(ref) + 1, len(hyp) + 1
    matrix = np.empty((rows, cols), dtype=np.int32)
    matrix[0] = np.arange(cols)
    offsets = np.arange(cols, dtype=np.int32)
    for i in range(1, rows):
        previous = matrix[i - 1]
        candidate = np.empty(cols, dtype=np.int32)
        candidate[0] = i
        candidate[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (hyp != ref[i - 1]))
        # d[j] = min_k<=j (candidate[k] + j - k): the insertion chain along the row.
        matrix[i] = np.minimum.accumulate(candidate - offsets) + offsets
    return matrix


def edit_distance(reference: str, hypothesis: str) -> int:
    return int(_distance_matrix(reference, hypothesis)[-1, -1])


@dataclass(frozen=True)
class Score:
    """Edits and reference characters per language; accuracy = 1 − edits / characters."""

    edits: dict[str, int]
    chars: dict[str, int]

    def accuracy(self, lang: str | None = None) -> float:
        langs = [lang] if lang else list(self.chars)
        chars = sum(self.chars.get(key, 0) for key in langs)
        edits = sum(self.edits.get(key, 0) for key in langs)
        return max(0.0, 1.0 - edits / chars) if chars else float("nan")

    def __add__(self, other: Score) -> Score:
        keys = set(self.chars) | set(other.chars)
        return Score(
            edits={k: self.edits.get(k, 0) + other.edits.get(k, 0) for k in keys},
            chars={k: self.chars.get(k, 0) + other.chars.get(k, 0) for k in keys},
        )


def score(truth: Sequence[tuple[str, str]], recognised: Sequence[str]) -> Score:
    """Score OCR lines against ground-truth ``(text, lang)`` rows, charging each edit to a language."""
    labels: list[str] = []
    parts: list[str] = []
    for text, lang in truth:
        piece = normalise(text)
        if not piece:
            continue
        if parts and not (_IS_CJK.match(parts[-1][-1]) or _IS_CJK.match(piece[0])):
            parts.append(" ")
            labels.append(lang)
        parts.append(piece)
        labels.extend([lang] * len(piece))
    reference = "".join(parts)
    hypothesis = normalise(" ".join(recognised))
    matrix = _distance_matrix(reference, hypothesis)
    edits = dict.fromkeys(set(labels), 0)
    i, j = len(reference), len(hypothesis)
    while i > 0 or j > 0:
        here = matrix[i, j]
        if i > 0 and j > 0 and here == matrix[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            if reference[i - 1] != hypothesis[j - 1]:
                edits[labels[i - 1]] += 1
            i, j = i - 1, j - 1
        elif i > 0 and here == matrix[i - 1, j] + 1:
            edits[labels[i - 1]] += 1  # a character the engine missed
            i -= 1
        else:
            edits[labels[max(i - 1, 0)] if labels else "zh"] += 1  # a character the engine invented
            j -= 1
    chars = {lang: labels.count(lang) for lang in set(labels)}
    return Score(edits=edits, chars=chars)
