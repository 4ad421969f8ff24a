"""Segmentation for keyword search: Chinese must become separate words PostgreSQL can match."""

from __future__ import annotations

import re

from claw_ai.textseg import query_terms, segment_for_search, tsquery_text


def test_chinese_is_segmented_into_words_and_sub_words():
    tokens = segment_for_search("中华人民共和国的退货政策").split()

    # Search mode indexes the long word and the words inside it.
    for word in ("中华人民共和国", "人民", "共和国", "退货", "政策"):
        assert word in tokens
    assert "中华人民共和国的退货政策" not in tokens


def test_english_and_digits_are_lowercased_words_without_punctuation():
    assert segment_for_search("Refund Policy: 30-day returns, v2.5!") == "refund policy 30 day returns v2 5"


def test_full_width_characters_are_folded():
    assert segment_for_search("ＡＢＣ１２３ 套餐") == "abc123 套餐"


def test_mixed_text_keeps_both_scripts_in_order():
    tokens = segment_for_search("iPhone15保修政策 warranty").split()
    assert tokens[0] == "iphone15" and tokens[-1] == "warranty"
    assert "保修" in tokens and "政策" in tokens


def test_query_terms_drop_function_words_and_duplicates():
    assert query_terms("请问如何申请退货？退货要多久？") == ["申请", "退货", "多久"]
    assert query_terms("How do I return the iPhone? Return it how?") == ["return", "iphone"]


def test_query_of_only_stop_words_still_searches_something():
    assert query_terms("的") == ["的"]
    assert query_terms("！？。") == []


def test_every_query_term_is_found_in_the_segmented_document():
    document = segment_for_search("客户在收到商品后七天内可以申请无理由退货。Refunds take 5 days.").split()
    for term in query_terms("怎么申请无理由退货？Refunds in days?"):
        assert term in document, term


def test_tsquery_text_is_safe_from_tsquery_syntax():
    text = tsquery_text("退货' | !政策 & (refund):*")
    assert text == "退货 | 政策 | refund"
    for term in text.split(" | "):
        assert re.fullmatch(r"\w+", term)
    assert tsquery_text("退货 政策", operator="&") == "退货 & 政策"
