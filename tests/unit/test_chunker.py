"""Chunking: sections, sentences, token budgets, overlap and table rows, in Chinese and English."""

from __future__ import annotations

import itertools
import re

import pytest

from ingest_app.chunker import chunk_document, default_token_counter, estimate_tokens, split_sentences
from ingest_app.parsers import Block, ParsedDocument, ParseLimits, parse_document

ZH_SENTENCES = [
    f"第{i}条：客户在收到商品后七天内可以申请无理由退货，但商品必须保持完好{'并附带发票' if i % 2 else ''}。"
    for i in range(1, 31)
]
EN_SENTENCES = [
    f"Rule {i} says that refunds for order type {i} are issued within {i % 7 + 1} days." for i in range(1, 31)
]


def doc_of(*blocks: Block, file_type: str = "markdown", title: str = "") -> ParsedDocument:
    return ParsedDocument(title=title, file_type=file_type, parser="test", blocks=list(blocks))


def heading(text: str, level: int, path: list[str]) -> Block:
    return Block(text, "heading", level, path)


def para(text: str, path: list[str], **where) -> Block:
    return Block(text, "paragraph", 0, path, **where)


def body_of(chunk) -> str:
    """The chunk text without its heading line."""
    return chunk.text.split("\n", 1)[1] if chunk.heading_path else chunk.text


# --------------------------------------------------------------------------- sections


RETURNS_TEXT = (
    "收到商品后七天内可以申请无理由退货，商品需保持完好、配件齐全，并附上发票；退款在仓库签收后三个工作日内原路退回。"
    "定制商品、已激活的会员卡和拆封的耗材不支持无理由退货，质量问题除外，运费由云帆承担。"
    "退货时请在订单页选择上门取件，快递员会在两个工作日内联系您。"
)
SHIPPING_TEXT = (
    "We ship worldwide from our Hangzhou warehouse. Orders placed before 4 pm leave the same day, "
    "and tracking numbers are e-mailed as soon as the parcel is scanned by the carrier. Customs duties "
    "are shown at checkout for the European Union, the United Kingdom and Australia, so nothing is due on delivery. "
    "Parcels that cannot be delivered are returned to us and refunded in full, shipping included."
)


def test_each_level_two_heading_starts_a_new_chunk_prefixed_with_title_and_path():
    # Given two sections, each long enough to stand alone, that would fit in one chunk together
    path_a, path_b = ["产品手册", "退货政策"], ["产品手册", "Shipping"]
    doc = doc_of(
        heading("产品手册", 1, ["产品手册"]),
        heading("退货政策", 2, path_a),
        para(RETURNS_TEXT, path_a),
        heading("Shipping", 2, path_b),
        para(SHIPPING_TEXT, path_b),
        title="产品手册",
    )

    # When the document is chunked
    chunks = chunk_document(doc, max_tokens=400)

    # Then each section is its own chunk and carries its heading path (the title once) for retrieval
    assert [c.text for c in chunks] == [
        f"产品手册 > 退货政策\n{RETURNS_TEXT}",
        f"产品手册 > Shipping\n{SHIPPING_TEXT}",
    ]
    assert [c.heading_path for c in chunks] == [path_a, path_b]
    assert [c.index for c in chunks] == [0, 1]


def test_the_document_title_starts_every_chunk_even_without_headings():
    # Given a CSV-like document: rows only, no heading; and a text with its own headings
    rows = doc_of(
        *(Block(f"产品: P{i}; 价格: {i}99", "table_row", 0, [], row=i + 2) for i in range(3)), title="价目表 2025"
    )
    text = doc_of(heading("退货", 2, ["退货"]), para(RETURNS_TEXT, ["退货"]), title="售后政策")

    # When they are chunked
    row_chunks, text_chunks = chunk_document(rows), chunk_document(text)

    # Then the title is the first line of every chunk (before the heading path)
    assert all(c.text.startswith("价目表 2025\n产品: P0") for c in row_chunks)
    assert [c.text.split("\n", 1)[0] for c in text_chunks] == ["售后政策 > 退货"]


def test_a_stub_intro_takes_the_next_section_in_instead_of_standing_alone():
    # Given a one-line intro under the title, then two full sections
    path_a, path_b = ["订单常见问题", "可以分期付款吗？"], ["订单常见问题", "Shipping"]
    doc = doc_of(
        heading("订单常见问题", 1, ["订单常见问题"]),
        para("本文汇总常见问题。", ["订单常见问题"]),
        heading("可以分期付款吗？", 2, path_a),
        para(RETURNS_TEXT, path_a),
        heading("Shipping", 2, path_b),
        para(SHIPPING_TEXT, path_b),
        title="订单常见问题",
    )

    chunks = chunk_document(doc)

    # Then the intro is not a chunk of its own: the first section's heading became a line after it
    assert len(chunks) == 2
    assert chunks[0].text == f"订单常见问题\n本文汇总常见问题。\n可以分期付款吗？\n{RETURNS_TEXT}"
    assert chunks[1].heading_path == path_b


def test_a_stub_at_the_end_joins_the_chunk_before_it():
    path_a, path_b = ["Guide", "Setup"], ["Guide", "Notes"]
    doc = doc_of(
        heading("Setup", 2, path_a),
        para(SHIPPING_TEXT, path_a),
        heading("Notes", 2, path_b),
        para("Keep the box.", path_b),
        title="Guide",
    )

    chunks = chunk_document(doc)

    assert len(chunks) == 1
    assert chunks[0].text == f"Guide > Setup\n{SHIPPING_TEXT}\nNotes\nKeep the box."


def test_faq_questions_and_numbered_clauses_open_a_chunk_of_their_own():
    # Given plain text with question lines and clause paragraphs, all under one heading
    path = ["FAQ"]
    answer = RETURNS_TEXT
    blocks = [heading("FAQ", 1, path)]
    for i in range(3):
        blocks += [para(f"问题{i}：可以退货吗{i}？", path), para(answer, path)]
    blocks += [para(f"第{n}条 {RETURNS_TEXT}", path) for n in ("一", "二")]

    chunks = chunk_document(doc_of(*blocks, title="FAQ"), max_tokens=400)

    # Then each question with its answer, and each clause, is one chunk
    bodies = [c.text.split("\n", 1)[1] for c in chunks]
    assert bodies == [f"问题{i}：可以退货吗{i}？\n{answer}" for i in range(3)] + [
        f"第{n}条 {RETURNS_TEXT}" for n in ("一", "二")
    ]


def test_a_long_paragraph_of_clause_lines_is_split_between_lines_never_inside_a_clause():
    clauses = [f"{i}.1 {RETURNS_TEXT}" for i in range(1, 9)]
    doc = doc_of(para("\n".join(clauses), ["条款"]), title="协议")

    chunks = chunk_document(doc, max_tokens=160, overlap_tokens=0)

    assert len(chunks) > 2
    for clause in clauses:
        assert sum(clause in c.text for c in chunks) == 1


def test_chunking_work_grows_linearly_with_a_single_huge_line():
    # Given one line without any sentence end or space, 100 kB and 1 MB long
    def work(size: int) -> int:
        counted = 0

        def count(text: str) -> int:
            nonlocal counted
            counted += len(text)
            return estimate_tokens(text)

        chunk_document(
            doc_of(para("无标点长文本" * (size // 6), [])), max_tokens=400, overlap_tokens=0, count_tokens=count
        )
        return counted

    # When both are chunked, counting the characters the token counter is asked about
    small, large = work(100_000), work(1_000_000)

    # Then ten times the input costs about ten times the work, not a hundred times
    assert large < small * 15


def test_deeper_headings_stay_inside_the_chunk():
    top, sub1, sub2 = ["Guide"], ["Guide", "Install"], ["Guide", "Install", "Linux"]
    doc = doc_of(
        heading("Guide", 1, top),
        para("Intro text.", top),
        heading("Install", 3, sub1),
        para("Run the installer.", sub1),
        heading("Linux", 4, sub2),
        para("Use apt.", sub2),
    )

    chunks = chunk_document(doc)

    assert len(chunks) == 1
    assert chunks[0].text == "Guide\nIntro text.\nInstall\nRun the installer.\nLinux\nUse apt."


def test_markdown_document_end_to_end_respects_headings():
    md = "# 手册\n\n## 退货\n\n" + "".join(ZH_SENTENCES[:4]) + "\n\n## Payment\n\n" + " ".join(EN_SENTENCES[:5])
    doc = parse_document(md.encode(), "m.md", None, ParseLimits())

    chunks = chunk_document(doc)

    assert [c.heading_path for c in chunks] == [["手册", "退货"], ["手册", "Payment"]]
    assert "Rule" not in chunks[0].text and "第1条" not in chunks[1].text


# --------------------------------------------------------------------------- sizes and sentences


@pytest.mark.parametrize("sentences", [ZH_SENTENCES, EN_SENTENCES], ids=["zh", "en"])
def test_long_paragraph_splits_on_sentences_within_the_token_budget(sentences):
    joiner = "" if sentences is ZH_SENTENCES else " "
    path = ["FAQ"]
    doc = doc_of(heading("FAQ", 1, path), para(joiner.join(sentences), path))
    count = default_token_counter()

    chunks = chunk_document(doc, max_tokens=80, overlap_tokens=0)

    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.token_count == count(chunk.text) <= 80
        assert chunk.text.startswith("FAQ\n")
        # Every chunk ends on a sentence end: no sentence was cut in half.
        assert chunk.text.endswith(("。", "."))
    # Every sentence appears whole in exactly one chunk (no overlap asked for).
    for sentence in sentences:
        assert sum(sentence in c.text for c in chunks) == 1


def test_over_long_sentence_is_cut_by_tokens_as_a_last_resort():
    path = ["长句"]
    run_on = "这是一个没有任何标点符号的超长句子" * 40
    doc = doc_of(heading("长句", 1, path), para(run_on, path))
    count = default_token_counter()

    chunks = chunk_document(doc, max_tokens=50, overlap_tokens=0)

    assert len(chunks) > 2
    assert all(count(c.text) <= 50 for c in chunks)
    assert "".join(body_of(c) for c in chunks) == run_on


def test_injected_counter_is_used_for_every_size():
    # A counter where every character is a token: the sizes must respect it, not the default.
    doc = doc_of(para(" ".join(EN_SENTENCES), []))

    chunks = chunk_document(doc, max_tokens=200, overlap_tokens=0, count_tokens=len)

    assert all(len(c.text) <= 200 and c.token_count == len(c.text) for c in chunks)
    assert len(chunks) > 5


def test_mixed_chinese_english_document_never_exceeds_max_tokens():
    blocks = [heading("混合 Mixed", 1, ["混合 Mixed"])]
    for i in range(20):
        blocks.append(para(ZH_SENTENCES[i] + " " + EN_SENTENCES[i] + "\n" + ZH_SENTENCES[-i - 1], ["混合 Mixed"]))
    count = default_token_counter()

    for max_tokens, overlap in [(64, 16), (128, 30), (400, 60)]:
        chunks = chunk_document(doc_of(*blocks), max_tokens=max_tokens, overlap_tokens=overlap)
        assert chunks
        assert all(count(c.text) <= max_tokens for c in chunks), max_tokens


# --------------------------------------------------------------------------- overlap


def test_consecutive_chunks_overlap_by_tail_sentences():
    path = ["政策"]
    doc = doc_of(heading("政策", 2, path), para("".join(ZH_SENTENCES), path))

    chunks = chunk_document(doc, max_tokens=100, overlap_tokens=40)

    assert len(chunks) > 3
    for previous, current in itertools.pairwise(chunks):
        last_sentence = split_sentences(body_of(previous))[-1]
        # The next chunk begins with the previous chunk's final sentence(s).
        assert body_of(current).startswith(last_sentence)
        assert 0 < current.metadata["overlap_tokens"] <= 40
    assert "overlap_tokens" not in chunks[0].metadata


def test_overlap_never_crosses_a_section_boundary():
    a, b = ["A"], ["B"]
    doc = doc_of(
        heading("A", 2, a),
        para(" ".join(EN_SENTENCES[:10]), a),
        heading("B", 2, b),
        para(" ".join(EN_SENTENCES[10:20]), b),
    )

    chunks = chunk_document(doc, max_tokens=60, overlap_tokens=20)

    first_b = next(c for c in chunks if c.heading_path == b)
    assert body_of(first_b).startswith(EN_SENTENCES[10])
    assert "overlap_tokens" not in first_b.metadata


# --------------------------------------------------------------------------- tables


def test_table_rows_are_grouped_and_never_split():
    path = ["价格表"]
    rows = [
        Block(
            f"产品: 商品{i}; 价格: {i * 10}元; 说明: 适用于{i}人团队", "table_row", 0, path, row=i + 1, sheet="价格表"
        )
        for i in range(1, 41)
    ]
    doc = doc_of(heading("价格表", 1, path), *rows, file_type="xlsx")
    count = default_token_counter()

    chunks = chunk_document(doc, max_tokens=120, overlap_tokens=30)

    assert 1 < len(chunks) < len(rows)  # several rows per chunk
    for row in rows:
        holders = [c for c in chunks if row.text in c.text.split("\n")]
        assert len(holders) == 1, row.text  # every row intact, exactly once (no overlap for tables)
    for chunk in chunks:
        assert count(chunk.text) <= 120
        assert chunk.sheet == "价格表" and chunk.metadata["kind"] == "table"
        assert chunk.row is not None and chunk.metadata["row_end"] > chunk.row
    assert chunks[0].row == 2


def test_rows_of_different_sheets_never_share_a_chunk():
    rows = [Block(f"Name: n{i}", "table_row", 0, [], row=i + 2, sheet="S1" if i < 2 else "S2") for i in range(4)]

    chunks = chunk_document(doc_of(*rows))

    assert [(c.sheet, c.text) for c in chunks] == [("S1", "Name: n0\nName: n1"), ("S2", "Name: n2\nName: n3")]


def test_a_single_over_long_row_is_cut_between_cells():
    cells = "; ".join(f"字段{i}: 这是第{i}个字段的比较长的取值内容" for i in range(30))
    doc = doc_of(Block(cells, "table_row", 0, [], row=2))
    count = default_token_counter()

    chunks = chunk_document(doc, max_tokens=60, overlap_tokens=0)

    assert len(chunks) > 1
    assert all(count(c.text) <= 60 and c.metadata.get("row_split") for c in chunks)
    pieces = [p for c in chunks for p in c.text.split("; ")]
    assert pieces == cells.split("; ")  # cut only between cells


# --------------------------------------------------------------------------- metadata and determinism


def test_pages_are_kept_in_chunk_metadata():
    blocks = [para(f"Page {p} says something important about refunds.", [], page=p) for p in (1, 2, 3)]

    chunks = chunk_document(doc_of(*blocks, file_type="pdf"))

    assert len(chunks) == 1
    assert chunks[0].page == 1 and chunks[0].metadata["page_end"] == 3


def test_chunking_is_deterministic():
    md = "# 指南\n\n## 一\n\n" + "".join(ZH_SENTENCES) + "\n\n## Two\n\n" + " ".join(EN_SENTENCES)
    doc = parse_document(md.encode(), "g.md", None, ParseLimits())

    first = chunk_document(doc, max_tokens=90, overlap_tokens=30)
    second = chunk_document(doc, max_tokens=90, overlap_tokens=30)

    assert first == second
    assert [c.index for c in first] == list(range(len(first)))


def test_invalid_sizes_are_refused():
    doc = doc_of(para("x", []))
    with pytest.raises(ValueError):
        chunk_document(doc, max_tokens=100, overlap_tokens=80)
    with pytest.raises(ValueError):
        chunk_document(doc, max_tokens=4)


# --------------------------------------------------------------------------- helpers


def test_split_sentences_chinese_and_english():
    text = "你好！这是“测试。”真的吗？好的……下一句；结束。Pi is 3.14 today. Really? Yes!\n新行没有标点\n最后"
    assert split_sentences(text) == [
        "你好！",
        "这是“测试。”",
        "真的吗？",
        "好的……",
        "下一句；",
        "结束。",
        "Pi is 3.14 today.",
        "Really?",
        "Yes!",
        "新行没有标点",
        "最后",
    ]


def test_estimate_tokens_counts_cjk_per_character():
    assert estimate_tokens("退货政策") == 4
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("") == 0


def test_default_counter_is_a_real_tokenizer():
    count = default_token_counter()
    # A BPE merges common English words and is not a character count.
    assert count("hello world") < len("hello world")
    assert re.fullmatch(r"\d+", str(count("退货政策")))


def test_a_new_pdf_page_starts_a_chunk_and_a_short_last_page_is_not_folded_back():
    page_one = [para(SHIPPING_TEXT, [], page=1), para(RETURNS_TEXT, [], page=1)]
    page_two = [para("Troubleshooting. If the red light blinks twice, the water tank is empty.", [], page=2)]

    chunks = chunk_document(doc_of(*page_one, *page_two, file_type="pdf", title="manual.pdf"))

    assert [c.page for c in chunks] == [1, 2]
    assert chunks[1].text == "manual.pdf\nTroubleshooting. If the red light blinks twice, the water tank is empty."
