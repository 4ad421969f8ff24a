"""Pure pieces of knowledge ingestion and search: keys, sequencers, limits, file names, snippets."""

from __future__ import annotations

import pytest

from claw_ai.retrieval.retriever import snippet_of
from ingest_app.logic import parse_kb_key, sequencer_is_older
from ingest_app.parsers import limits_for_tier
from knowledge_app.common import TIER_MAX_BYTES, safe_filename


def test_kb_keys_give_the_knowledge_base_and_the_file_name() -> None:
    kb = "6bbaac52-c0f6-48f4-b97b-7e17297d38d8"
    assert parse_kb_key(f"kb/{kb}/doc-id/产品 手册+v1.pdf") == (kb, "产品 手册+v1.pdf")
    assert parse_kb_key(f"kb/{kb.upper()}/a.txt") == (kb, "a.txt")
    assert parse_kb_key("kb/42/a.txt") is None
    assert parse_kb_key(f"other/{kb}/a.txt") is None
    assert parse_kb_key(f"kb/{kb}/folder/") is None


@pytest.mark.parametrize(
    ("candidate", "applied", "older"),
    [
        ("0055AED6DCD90281E4", "0055AED6DCD90281E5", True),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E5", False),
        ("55AED6DCD90281E6", "0055AED6DCD90281E5", False),  # shorter but larger once left-padded
        ("FF", "0100", True),
        (None, "01", False),
        ("01", None, False),
        ("not-hex", "01", False),
    ],
)
def test_sequencers_compare_as_left_padded_hex(candidate: str | None, applied: str | None, older: bool) -> None:
    assert sequencer_is_older(candidate, applied) is older


def test_the_api_size_limits_mirror_the_ingest_tier_limits() -> None:
    for tier, max_bytes in TIER_MAX_BYTES.items():
        assert limits_for_tier(tier).max_bytes == max_bytes


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\报告 2024.pdf", "报告 2024.pdf"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ("...", "file"),
    ],
)
def test_file_names_are_safe_key_segments(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_long_file_names_keep_their_extension() -> None:
    name = safe_filename("x" * 300 + ".docx")
    assert len(name) == 200 and name.endswith(".docx")


def test_snippet_drops_the_heading_line_and_centres_on_the_question() -> None:
    text = (
        "Guide > Lights\n"
        + " ".join(f"Filler sentence number {i}." for i in range(30))
        + " The red light means low water."
    )
    snippet = snippet_of(text, ["Guide", "Lights"], "what does the red light mean")
    assert "red light means low water" in snippet and not snippet.startswith("Guide")
    assert len(snippet) <= 240
    assert snippet_of("退货 > 期限\n七天内可以退货。", ["退货", "期限"]) == "七天内可以退货。"


def test_snippet_drops_the_title_and_heading_line_the_chunker_writes() -> None:
    assert snippet_of("售后政策 > 退货\n七天内可以退货。", ["退货"], title="售后政策") == "七天内可以退货。"
    assert snippet_of("售后政策 > 退货\n七天内可以退货。", ["售后政策", "退货"], title="售后政策") == "七天内可以退货。"
    assert snippet_of("price-list.csv\n产品: P3; 价格: 1499", [], title="price-list.csv") == "产品: P3; 价格: 1499"
    # A first line that is content stays
    assert snippet_of("七天内可以退货。\n运费由买家承担。", [], title="售后政策").startswith("七天内")
