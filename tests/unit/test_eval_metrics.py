"""The evaluation's metric functions (benchmarks/eval/metrics.py): numbers later work is tuned by."""

from __future__ import annotations

import pytest

from benchmarks.eval.metrics import (
    auroc,
    best_threshold,
    contains_fact,
    first_hit_rank,
    hit_at_k,
    mean,
    reciprocal_rank,
)


def test_hit_at_k_counts_only_hits_within_k() -> None:
    ranking = [False, False, True, False, True]
    assert first_hit_rank(ranking) == 3
    assert hit_at_k(ranking, 1) == 0.0
    assert hit_at_k(ranking, 2) == 0.0
    assert hit_at_k(ranking, 3) == 1.0
    assert hit_at_k([], 3) == 0.0
    assert hit_at_k([False] * 5, 5) == 0.0


def test_reciprocal_rank_uses_the_first_hit() -> None:
    assert reciprocal_rank([True, True]) == 1.0
    assert reciprocal_rank([False, True, True]) == pytest.approx(0.5)
    assert reciprocal_rank([False, False, False, True]) == pytest.approx(0.25)
    assert reciprocal_rank([False, False]) == 0.0
    # MRR over three questions: (1 + 1/2 + 0) / 3
    assert mean([reciprocal_rank(r) for r in ([True], [False, True], [False])]) == pytest.approx(0.5)
    assert mean([]) is None


def test_auroc_perfect_inverse_chance_and_ties() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1, 0.2], [0.9, 0.8]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5
    # 3 positives x 2 negatives: wins 0.6>0.4, 0.6>0.5, 0.45>0.4, tie none, 0.3 loses both -> 3/6
    assert auroc([0.6, 0.45, 0.3], [0.4, 0.5]) == pytest.approx(3 / 6)
    assert auroc([], [0.1]) is None


def test_best_threshold_refuses_at_most_the_allowed_share_of_answerable() -> None:
    positives = [0.1 * i for i in range(1, 21)]  # 0.1 .. 2.0, 20 answerable
    negatives = [0.05, 0.15, 0.5, 3.0]
    t = best_threshold(positives, negatives, max_positive_loss=0.05)  # one positive may be refused
    assert t["positives_refused"] == 1
    assert t["threshold"] == pytest.approx(0.2)
    assert t["negatives_refused"] == 2  # 0.05 and 0.15 are below 0.2


def test_facts_match_across_whitespace_width_and_case() -> None:
    assert contains_fact("自签收之日起 15天内，商品……", "15 天内")
    assert contains_fact("颗粒物洁净空气量（CADR）：500 m³/h", "500 m3/h")
    assert contains_fact("Shipping in BOTH\ndirections.", "both directions")
    assert not contains_fact("自签收之日起 7 天内", "15 天内")
    assert not contains_fact(None, "x")
