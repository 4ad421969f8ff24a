"""Segmentation for keyword search: Chinese must become separate words PostgreSQL can match."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

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


# Characters where NFKC, lower-casing and the token pattern interact: full-width forms (folded
# on the fast path), compatibility characters that NFKC turns into letters (℃ ① ﬁ ㎏), combining
# marks, a final sigma next to a colon (case-ignorable), Han, kana, digits, spaces and punctuation.
_TRICKY = "ＡＢｚ１９，：；！？（）＿　℃①ﬁ㎏\u0301\u0308eΣσΑ:.,'中华人民共和国退货政策カナ123 \n\t-_iİß"


def _reference_segment(text: str) -> str:
    """The definition: NFKC, lower-case, Han runs cut by jieba's search mode, other words whole."""
    import unicodedata

    import rjieba

    from claw_ai.cjk import HAN

    out: list[str] = []
    for match in re.finditer(rf"[{HAN}]+|[^\W_{HAN}]+", unicodedata.normalize("NFKC", text).lower()):
        token = match.group()
        if re.match(rf"[{HAN}]", token):
            out.extend(w for w in rjieba.cut_for_search(token) if w.strip())
        else:
            out.append(token)
    return " ".join(out)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(_TRICKY) | st.characters(), max_size=60))
def test_segmentation_is_exactly_its_definition(text: str) -> None:
    import unicodedata

    from claw_ai.textseg import _nfkc

    assert _nfkc(text) == unicodedata.normalize("NFKC", text)
    assert segment_for_search(text) == _reference_segment(text)


def test_segmentation_of_the_evaluation_corpus_is_exactly_its_definition() -> None:
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "benchmarks" / "eval" / "corpus"
    for path in sorted(corpus.iterdir()):
        text = path.read_text(encoding="utf-8")
        assert segment_for_search(text) == _reference_segment(text), path.name
