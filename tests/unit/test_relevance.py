"""The keyword score, the relevance threshold per embedder, and recognising a "no answer"."""

from __future__ import annotations

import pytest

from claw_ai.answering.no_answer import (
    NO_ANSWER_MARKER,
    MarkerGuard,
    default_message,
    message_for,
    says_no_answer,
)
from claw_ai.retrieval.keywords import KeywordScorer, keyword_terms
from claw_ai.retrieval.relevance import covers, relevance, threshold_for


def test_single_chinese_characters_are_not_keyword_terms_when_longer_words_exist() -> None:
    terms = keyword_terms("门锁的电池能用多久？")
    assert "门锁" in terms and "电池" in terms
    assert all(len(t) > 1 for t in terms)
    # A question of single characters only still searches for something
    assert keyword_terms("有吗") != []


def test_keyword_score_is_the_share_of_idf_weight_and_rare_terms_weigh_more() -> None:
    scorer = KeywordScorer.build(["warranty", "water", "damage"], {"warranty": 30, "water": 2, "damage": 2}, 40)

    assert scorer.score([]) == 0.0
    assert scorer.score(["warranty", "water", "damage"]) == pytest.approx(1.0)
    assert scorer.score(["water"]) > scorer.score(["warranty"])
    assert scorer.score(["water", "water"]) == scorer.score(["water"])  # repetition does not count


def test_a_term_the_knowledge_base_never_saw_weighs_most() -> None:
    scorer = KeywordScorer.build(["smartwatch", "yunfan"], {"yunfan": 20}, 40)
    assert scorer.score(["yunfan"]) < 0.25


def test_each_embedder_has_its_own_threshold() -> None:
    assert threshold_for("use-multilingual-v3") == pytest.approx(0.24)
    assert threshold_for("embedding-3") is not None
    assert threshold_for("hash-512") is not None
    assert threshold_for("some-new-model") is None
    assert relevance(0.5, 0.5) == pytest.approx(0.6)


def test_coverage_needs_relevance_or_strong_keyword_evidence() -> None:
    assert covers(0.30, 0.0, 0, 0.24)
    assert covers(0.10, 0.7, 2, 0.24)
    assert not covers(0.10, 0.7, 1, 0.24)
    assert not covers(0.20, 0.4, 3, 0.24)


@pytest.mark.parametrize(
    ("reply", "declines"),
    [
        (NO_ANSWER_MARKER, True),
        (f"  {NO_ANSWER_MARKER}\n", True),
        ("The provided sources do not contain information about that.", True),
        ("资料中没有提到这个问题的答案。", True),
        ("Orders ship within 2 business days [1].", False),
        ("The sources do not mention weekends, but orders ship within 2 business days [1]. " * 3, False),
    ],
)
def test_says_no_answer(reply: str, declines: bool) -> None:
    assert says_no_answer(reply) is declines


def test_the_no_answer_message_follows_the_question_language_unless_configured() -> None:
    assert default_message("保修多久？").startswith("抱歉")
    assert default_message("How long is the warranty?").startswith("Sorry")
    assert message_for("保修多久？", "请致电 400-800-1234") == "请致电 400-800-1234"
    assert message_for("保修多久？", "  ") == default_message("保修多久？")


def test_the_marker_guard_withholds_only_what_could_be_the_marker() -> None:
    sent: list[str] = []
    guard = MarkerGuard(sent.append)
    for piece in ["[NO", "_ANS", "WER]"]:
        guard(piece)
    assert sent == []
    guard.finish("Sorry.")
    assert sent == ["Sorry."]

    sent.clear()
    guard = MarkerGuard(sent.append)
    for piece in ["[1", "] Orders", " ship"]:
        guard(piece)
    guard.finish(None)
    assert "".join(sent) == "[1] Orders ship"
