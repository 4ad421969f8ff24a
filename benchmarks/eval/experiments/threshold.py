"""Calibrate the relevance threshold of an embedding model from an eval run without one.

Run ``make eval`` with the threshold switched off (``relevance.threshold_for`` returning None)
and ``--json FILE``, then ``python -m benchmarks.eval.experiments.threshold FILE``. For the
``default`` mode (hybrid: the top source's score is the top relevance) it prints the AUROC of
the top relevance (answerable vs unanswerable), the highest threshold refusing at most
``--max-refused`` of the answerable questions in-sample, and a split-half check: chosen on
the even-numbered questions of each category and applied to the odd ones, and the reverse.
It also shows what dropping every *passage* below the threshold does to hit@1/hit@3.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any


def auroc(positive: list[float], negative: list[float]) -> float:
    """P(a random answerable top score > a random unanswerable one); ties count half."""
    if not positive or not negative:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def highest_threshold(answerable: list[float], max_refused: float) -> float:
    """The highest t such that at most ``max_refused`` of the answerable top scores are below t."""
    ordered = sorted(answerable)
    allowed = int(max_refused * len(ordered))
    return ordered[allowed] if allowed < len(ordered) else ordered[-1]


def refused(scores: list[float], threshold: float) -> int:
    return sum(s < threshold for s in scores)


def halves(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r["id"]):
        by_category[row["category"]].append(row)
    even = [r for rs in by_category.values() for r in rs[0::2]]
    odd = [r for rs in by_category.values() for r in rs[1::2]]
    return even, odd


def passage_effect(rows: list[dict[str, Any]], threshold: float) -> tuple[float, float]:
    """hit@1 and hit@3 over answerable questions once passages below ``threshold`` are dropped."""
    answerable = [r for r in rows if r["answerable"]]
    h1 = h3 = 0
    for r in answerable:
        kept = [s["relevant"] for s in r["sources"] if s["score"] >= threshold]
        h1 += bool(kept[:1] and kept[0])
        h3 += any(kept[:3])
    return h1 / len(answerable), h3 / len(answerable)


def gate_effect(rows: list[dict[str, Any]], threshold: float, floor: float) -> tuple[float, float]:
    """hit@1/hit@3 when a question keeps sources only if its top passage reaches ``threshold``,
    and then only the passages at or above ``floor``."""
    answerable = [r for r in rows if r["answerable"]]
    h1 = h3 = 0
    for r in answerable:
        if r["top_score"] < threshold:
            continue
        kept = [s["relevant"] for s in r["sources"] if s["score"] >= floor]
        h1 += bool(kept[:1] and kept[0])
        h3 += any(kept[:3])
    return h1 / len(answerable), h3 / len(answerable)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("json_file")
    parser.add_argument("--mode", default="default")
    parser.add_argument("--max-refused", type=float, default=0.05)
    args = parser.parse_args(argv)
    data = json.load(open(args.json_file, encoding="utf-8"))
    rows = [r for r in data["results"] if r["mode"] == args.mode]
    pos = [r["top_score"] for r in rows if r["answerable"]]
    neg = [r["top_score"] for r in rows if not r["answerable"]]
    t = highest_threshold(pos, args.max_refused)
    print(f"mode {args.mode}: {len(pos)} answerable, {len(neg)} unanswerable; AUROC top score {auroc(pos, neg):.3f}")
    print(
        f"in-sample threshold {t:.4f}: unanswerable refused {refused(neg, t)}/{len(neg)}, "
        f"answerable refused {refused(pos, t)}/{len(pos)}"
    )
    even, odd = halves(rows)
    total_neg = total_pos = 0
    for name, fit, test in (("even->odd", even, odd), ("odd->even", odd, even)):
        tt = highest_threshold([r["top_score"] for r in fit if r["answerable"]], args.max_refused)
        test_pos = [r["top_score"] for r in test if r["answerable"]]
        test_neg = [r["top_score"] for r in test if not r["answerable"]]
        total_neg += refused(test_neg, tt)
        total_pos += refused(test_pos, tt)
        print(
            f"  {name}: threshold {tt:.4f} -> unanswerable refused {refused(test_neg, tt)}/{len(test_neg)}, "
            f"answerable refused {refused(test_pos, tt)}/{len(test_pos)}"
        )
    print(f"  out-of-sample total: unanswerable {total_neg}/{len(neg)}, answerable {total_pos}/{len(pos)}")
    for cand in sorted({round(t, 2) - 0.02, round(t, 2), round(t, 2) + 0.02}):
        h1, h3 = passage_effect(rows, cand)
        print(
            f"  passages below {cand:.2f} dropped: hit@1 {h1:.3f} hit@3 {h3:.3f}; "
            f"unanswerable refused {refused(neg, cand)}/{len(neg)}, answerable {refused(pos, cand)}/{len(pos)}"
        )
    for cand in (round(t, 2) - 0.02, round(t, 2), round(t, 2) + 0.02):
        for margin in (0.05, 0.10, 1.0):
            h1, h3 = gate_effect(rows, cand, cand - margin)
            print(f"  top gate {cand:.2f}, passages >= top gate - {margin:.2f}: hit@1 {h1:.3f} hit@3 {h3:.3f}")
    h1, h3 = passage_effect(rows, -1.0)
    print(f"  no threshold: hit@1 {h1:.3f} hit@3 {h3:.3f}")


if __name__ == "__main__":
    main()
