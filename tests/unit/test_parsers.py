"""Document parsing: every format in Chinese and English, and every way a file is refused.

Fixtures are generated here at test time (reportlab for PDFs, python-docx, openpyxl,
zipfile); no binary fixture is committed.
"""

from __future__ import annotations

import io
import json
import socket
import zipfile

import pytest

from ingest_app.parsers import (
    Block,
    DocumentRejected,
    ParseLimits,
    detect_file_type,
    limits_for_tier,
    parse_document,
)
from tests.knowledge_helpers import make_pdf

LIMITS = ParseLimits()


# --------------------------------------------------------------------------- fixture builders


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str = "owner") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("产品手册 Product Manual", style="Title")
    document.add_heading("退货政策", level=1)
    document.add_paragraph("客户在收到商品后七天内可以申请无理由退货。")
    document.add_heading("Refund timeline", level=2)
    document.add_paragraph("Refunds are issued within 5 business days.")
    document.add_paragraph("Keep the receipt", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("产品", "价格"), ("标准版", "99元"), ("Pro plan", "$20")]):
        table.cell(r, 0).text = a
        table.cell(r, 1).text = b
    document.add_heading("Shipping", level=1)
    document.add_paragraph("We ship worldwide.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def make_xlsx() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "价格表"
    sheet.append(["产品", "价格", "备注"])
    sheet.append(["标准版", 99, "含税"])
    sheet.append(["专业版", 199.5, None])
    english = workbook.create_sheet("Contacts")
    english.append(["Name", "Email"])
    english.append([None, None])  # a blank row must not shift the row numbers the user sees
    english.append(["Alice", "alice@example.com"])
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buf.getvalue()


def texts(blocks: list[Block], kind: str | None = None) -> list[str]:
    return [b.text for b in blocks if kind is None or b.kind == kind]


# --------------------------------------------------------------------------- PDF


def test_pdf_keeps_chinese_and_english_text_with_page_numbers():
    # Given a two-page PDF with Chinese on page 1 and English on page 2
    data = make_pdf(
        [
            ["退货政策：七天无理由退货。", "运费由买家承担。"],
            ["Shipping takes 3 days.", "Contact support@example.com."],
        ],
        title="客服手册",
    )

    # When it is parsed
    doc = parse_document(data, "manual.pdf", "application/pdf", LIMITS)

    # Then the text is there, attributed to the right pages, and the title comes from the metadata
    assert doc.file_type == "pdf" and doc.parser == "pypdf" and doc.page_count == 2
    assert doc.title == "客服手册"
    by_page = {b.page: [] for b in doc.blocks}
    for block in doc.blocks:
        by_page[block.page].append(block.text)
    assert any("七天无理由退货" in t for t in by_page[1])
    assert any("Shipping takes 3 days." in t for t in by_page[2])


def test_password_protected_pdf_is_rejected_as_encrypted():
    data = encrypt_pdf(make_pdf([["机密文件 Confidential"]]), user_password="secret")

    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "secret.pdf", None, LIMITS)

    assert caught.value.code == "encrypted"
    assert "encrypted" in caught.value.reason


def test_pdf_with_only_an_owner_password_is_still_readable():
    # Permission-only encryption (no user password) opens in every viewer, so it must ingest.
    data = encrypt_pdf(make_pdf([["公开文件 Public notice."]]), user_password="")

    doc = parse_document(data, "notice.pdf", None, LIMITS)

    assert any("Public notice." in t for t in texts(doc.blocks))


def test_corrupt_pdf_is_rejected_with_a_reason():
    data = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not a pdf body\n%%EOF"

    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "broken.pdf", None, LIMITS)

    assert caught.value.code in ("corrupt", "empty")
    assert caught.value.reason


def test_text_file_named_pdf_is_rejected_as_corrupt():
    with pytest.raises(DocumentRejected) as caught:
        parse_document("这不是PDF".encode(), "fake.pdf", None, LIMITS)
    assert caught.value.code == "corrupt"


def test_pdf_over_the_page_limit_is_rejected():
    data = make_pdf([["第一页"], ["第二页"], ["第三页"]])

    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "long.pdf", None, ParseLimits(max_pages=2))

    assert caught.value.code == "too_many_pages"
    assert "3 pages" in caught.value.reason


def test_pdf_without_a_text_layer_is_rejected_as_empty():
    data = make_pdf([[]])  # a blank page: what a scan without OCR looks like to us

    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "scan.pdf", None, LIMITS)

    assert caught.value.code == "empty"


def test_magic_bytes_win_over_a_wrong_extension():
    data = make_pdf([["Misnamed but valid."]])
    assert detect_file_type(data, "report.docx", None) == "pdf"
    assert any("Misnamed" in t for t in texts(parse_document(data, "report.docx", None, LIMITS).blocks))


# --------------------------------------------------------------------------- DOCX


def test_docx_headings_paragraphs_and_table_rows_keep_structure():
    doc = parse_document(make_docx(), "手册.docx", None, LIMITS)

    assert doc.file_type == "docx"
    assert doc.title == "产品手册 Product Manual"
    headings = [(b.text, b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        ("产品手册 Product Manual", 0),
        ("退货政策", 1),
        ("Refund timeline", 2),
        ("Shipping", 1),
    ]
    refund = next(b for b in doc.blocks if b.text.startswith("Refunds are issued"))
    assert refund.heading_path == ["产品手册 Product Manual", "退货政策", "Refund timeline"]
    # Each table row keeps its header, so it still makes sense when retrieved alone.
    assert texts(doc.blocks, "table_row") == ["产品: 标准版; 价格: 99元", "产品: Pro plan; 价格: $20"]
    assert "Keep the receipt" in texts(doc.blocks, "list_item")
    shipping = next(b for b in doc.blocks if b.text == "We ship worldwide.")
    assert shipping.heading_path == ["产品手册 Product Manual", "Shipping"]


def test_zip_bomb_docx_is_rejected_before_parsing():
    # Given a DOCX-shaped zip with a 64 MB entry of zeros that compresses ~1000:1
    bomb = make_zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": b"<w:document/>",
            "word/media/image1.png": b"\0" * (64 * 1024 * 1024),
        }
    )
    assert len(bomb) < 1024 * 1024

    with pytest.raises(DocumentRejected) as caught:
        parse_document(bomb, "bomb.docx", None, LIMITS)

    assert caught.value.code == "zip_bomb"
    assert "compression ratio" in caught.value.reason


def test_docx_inflating_past_the_size_limit_is_rejected():
    data = make_docx()
    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "big.docx", None, ParseLimits(max_uncompressed_bytes=10_000))
    assert caught.value.code == "zip_bomb"


def test_docx_with_too_many_entries_is_rejected():
    entries = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}
    entries.update({f"word/x{i}.xml": b"<x/>" for i in range(50)})
    with pytest.raises(DocumentRejected) as caught:
        parse_document(make_zip(entries), "many.docx", None, ParseLimits(max_zip_entries=20))
    assert caught.value.code == "zip_bomb"


def test_docx_with_an_xml_dtd_is_rejected():
    billion_laughs = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><w:document>&lol;</w:document>'
    data = make_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": billion_laughs})
    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "laughs.docx", None, LIMITS)
    assert "DTD" in caught.value.reason


def test_password_protected_docx_is_rejected_as_encrypted():
    # Office wraps a password-protected DOCX in an OLE2 compound file.
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512
    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "locked.docx", None, LIMITS)
    assert caught.value.code == "encrypted"


def test_corrupt_docx_is_rejected():
    with pytest.raises(DocumentRejected) as caught:
        parse_document(b"PK\x03\x04 truncated garbage", "broken.docx", None, LIMITS)
    assert caught.value.code == "corrupt"


# --------------------------------------------------------------------------- XLSX / CSV


def test_xlsx_rows_keep_their_header_sheet_and_row_number():
    doc = parse_document(make_xlsx(), "data.xlsx", None, LIMITS)

    rows = [(b.sheet, b.row, b.text) for b in doc.blocks if b.kind == "table_row"]
    assert rows == [
        ("价格表", 2, "产品: 标准版; 价格: 99; 备注: 含税"),
        ("价格表", 3, "产品: 专业版; 价格: 199.5"),
        ("Contacts", 3, "Name: Alice; Email: alice@example.com"),
    ]
    # Several sheets: each sheet name becomes a heading so chunks never mix sheets.
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["价格表", "Contacts"]


def test_xlsx_row_limit():
    with pytest.raises(DocumentRejected) as caught:
        parse_document(make_xlsx(), "data.xlsx", None, ParseLimits(max_rows=2))
    assert caught.value.code == "too_many_rows"


def test_zip_bomb_xlsx_is_rejected():
    bomb = make_zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b" " * (32 * 1024 * 1024)})
    with pytest.raises(DocumentRejected) as caught:
        parse_document(bomb, "bomb.xlsx", None, LIMITS)
    assert caught.value.code == "zip_bomb"


def test_gb18030_chinese_csv_rows_keep_header():
    data = '产品,价格,说明\n标准版,99,适合个人\n专业版,199,"适合团队, 含发票"\n'.encode("gb18030")

    doc = parse_document(data, "价格.csv", "text/csv", LIMITS)

    assert doc.file_type == "csv"
    assert [(b.row, b.text) for b in doc.blocks] == [
        (2, "产品: 标准版; 价格: 99; 说明: 适合个人"),
        (3, "产品: 专业版; 价格: 199; 说明: 适合团队, 含发票"),
    ]


def test_semicolon_csv_with_bom_is_sniffed():
    data = "\ufeffName;City;Plan\nAlice;Paris;pro\nBob;Berlin;free\n".encode()

    doc = parse_document(data, "users.csv", None, LIMITS)

    assert texts(doc.blocks) == ["Name: Alice; City: Paris; Plan: pro", "Name: Bob; City: Berlin; Plan: free"]


def test_csv_row_limit():
    data = ("a,b\n" + "".join(f"{i},{i}\n" for i in range(20))).encode()
    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "rows.csv", None, ParseLimits(max_rows=10))
    assert caught.value.code == "too_many_rows"


# --------------------------------------------------------------------------- HTML


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails the test."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>帮助中心 Help Center</title>
<link rel="stylesheet" href="http://127.0.0.1:9/style.css">
<script src="http://127.0.0.1:9/tracker.js"></script>
<style>body { color: red }</style></head>
<body>
<nav><a href="/">首页</a> 导航菜单</nav>
<header>网站页眉 Site header</header>
<main>
  <h1>产品手册</h1>
  <p>欢迎使用 <b>CLAW</b> 客服。<img src="http://127.0.0.1:9/pixel.gif"></p>
  <h2>退货政策</h2>
  <p>七天无理由退货。</p>
  <ul><li>保持商品完好</li><li>Keep the receipt</li></ul>
  <h2>Pricing</h2>
  <table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>$20</td></tr></table>
  <script>document.write("恶意脚本 injected")</script>
  <iframe src="http://127.0.0.1:9/frame"></iframe>
  <form><input name="q"> 搜索表单</form>
</main>
<aside>侧边栏广告</aside>
<footer>版权所有 Copyright</footer>
</body></html>"""


def test_html_keeps_main_content_with_heading_paths_and_drops_scripts(no_network):
    doc = parse_document(HTML.encode(), "help.html", "text/html", LIMITS)

    body = "\n".join(texts(doc.blocks))
    assert doc.title == "帮助中心 Help Center"
    assert "欢迎使用 CLAW 客服。" in body
    for dropped in ("恶意脚本", "导航菜单", "Site header", "侧边栏", "Copyright", "搜索表单", "color: red"):
        assert dropped not in body
    refund = next(b for b in doc.blocks if b.text == "七天无理由退货。")
    assert refund.heading_path == ["产品手册", "退货政策"]
    assert texts(doc.blocks, "list_item") == ["保持商品完好", "Keep the receipt"]
    assert texts(doc.blocks, "table_row") == ["Plan: Pro; Price: $20"]
    assert no_network == []


def test_html_without_main_uses_body_and_gbk_charset(no_network):
    data = '<html><head><meta charset="gbk"></head><body><h2>联系我们</h2><p>电话：400-123-4567</p></body></html>'

    doc = parse_document(data.encode("gbk"), "contact.htm", None, LIMITS)

    assert texts(doc.blocks) == ["联系我们", "电话：400-123-4567"]


# --------------------------------------------------------------------------- Markdown / TXT / JSON

MARKDOWN = """# 用户指南

欢迎使用本产品。
这一行是同一段落。

Getting started
---------------

Install the app, then sign in.

```bash
# this is a comment, not a heading
pip install claw
```

- 第一步：注册账号
- Step two: verify your email

### 常见问题

| 问题 | 答案 |
|------|------|
| 如何退货？ | 七天内申请 |
"""


def test_markdown_atx_and_setext_headings_code_and_lists():
    doc = parse_document(MARKDOWN.encode(), "guide.md", None, LIMITS)

    assert doc.file_type == "markdown" and doc.title == "用户指南"
    assert [(b.text, b.level) for b in doc.blocks if b.kind == "heading"] == [
        ("用户指南", 1),
        ("Getting started", 2),
        ("常见问题", 3),
    ]
    # A line break after a sentence end is structure (kept); the paragraph is still one block.
    assert "欢迎使用本产品。\n这一行是同一段落。" in texts(doc.blocks, "paragraph")
    code = texts(doc.blocks, "code")
    assert len(code) == 1 and "# this is a comment, not a heading" in code[0] and "pip install claw" in code[0]
    assert texts(doc.blocks, "list_item") == ["- 第一步：注册账号", "- Step two: verify your email"]
    row = next(b for b in doc.blocks if b.kind == "table_row")
    assert row.text == "问题: 如何退货？; 答案: 七天内申请"
    assert row.heading_path == ["用户指南", "Getting started", "常见问题"]


def test_txt_paragraphs_split_on_blank_lines_with_gb18030_fallback():
    data = "第一段：欢迎光临。\n\n第二段：营业时间为九点到六点。\n周末休息。\n\n\nThird paragraph.".encode("gb18030")

    doc = parse_document(data, "notice.txt", None, LIMITS)

    assert doc.file_type == "txt"
    assert texts(doc.blocks) == ["第一段：欢迎光临。", "第二段：营业时间为九点到六点。\n周末休息。", "Third paragraph."]
    assert doc.title == "notice"


def test_json_is_flattened_per_top_level_key():
    payload = {
        "公司": "CLAW",
        "faq": [{"q": "如何退货？", "a": "七天内申请"}, {"q": "How to pay?", "a": "By card"}],
        "contact": {"email": "help@example.com", "tags": ["support", "sales"]},
    }

    doc = parse_document(json.dumps(payload, ensure_ascii=False).encode(), "faq.json", None, LIMITS)

    assert texts(doc.blocks) == [
        "公司: CLAW",
        "faq[0].q: 如何退货？\nfaq[0].a: 七天内申请\nfaq[1].q: How to pay?\nfaq[1].a: By card",
        "contact.email: help@example.com\ncontact.tags: support, sales",
    ]


def test_invalid_json_is_rejected_with_position():
    with pytest.raises(DocumentRejected) as caught:
        parse_document(b'{"a": 1,\n "b": }', "bad.json", None, LIMITS)
    assert caught.value.code == "corrupt"
    assert "line 2" in caught.value.reason


# --------------------------------------------------------------------------- limits and types


def test_oversized_file_is_rejected_before_parsing():
    data = b"a" * 2048
    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, "big.txt", None, ParseLimits(max_bytes=1024))
    assert caught.value.code == "too_large"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "photo.png"),
        (b"MZ\x90\0" + b"\0" * 64, "setup.exe"),
        (b"\x00\x01\x02binary\x00", "blob.bin"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "old.doc"),
        (make_zip({"a.txt": b"hello"}), "archive.zip"),
        (b"plain words", "slides.pptx"),
    ],
)
def test_unsupported_types_are_rejected(data, filename):
    with pytest.raises(DocumentRejected) as caught:
        parse_document(data, filename, None, LIMITS)
    assert caught.value.code in ("unsupported_type", "corrupt")
    assert caught.value.reason


def test_empty_file_is_rejected():
    with pytest.raises(DocumentRejected) as caught:
        parse_document(b"  \n\n ", "empty.txt", None, LIMITS)
    assert caught.value.code == "empty"


def test_type_falls_back_to_content_type_and_sniffing():
    assert detect_file_type(b'{"a": 1}', "upload", None) == "json"
    assert detect_file_type(b"<html><body>x</body></html>", "upload", None) == "html"
    assert detect_file_type(b"# Title\n\ntext", "upload", None) == "markdown"
    assert detect_file_type("纯文本".encode(), "upload", "text/plain") == "txt"


def test_tier_limits():
    assert (limits_for_tier("free").max_bytes, limits_for_tier("free").max_pages) == (10 * 1024 * 1024, 200)
    assert (limits_for_tier("pro").max_bytes, limits_for_tier("pro").max_pages) == (50 * 1024 * 1024, 1000)
    enterprise = limits_for_tier("enterprise")
    assert (enterprise.max_bytes, enterprise.max_pages) == (200 * 1024 * 1024, 5000)
    assert limits_for_tier("unknown") == limits_for_tier("free")


def test_pdf_bookmarks_become_headings_on_their_pages():
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([["前言 Preface."], ["退货流程说明。"]]))))
    chapter = writer.add_outline_item("第一章 售后", 0)
    writer.add_outline_item("退货 Returns", 1, parent=chapter)
    out = io.BytesIO()
    writer.write(out)

    doc = parse_document(out.getvalue(), "bookmarked.pdf", None, LIMITS)

    returns = next(b for b in doc.blocks if "退货流程说明" in b.text)
    assert returns.page == 2
    assert returns.heading_path == ["第一章 售后", "退货 Returns"]


def test_markdown_text_bodies_keep_clause_lines_and_join_soft_wraps():
    # Given a pasted text body: numbered clauses on their own lines, and a hard-wrapped English sentence
    md = (
        "## 第一条 定义\n\n1.1 “云帆”指云帆公司\n1.2 “用户”指注册的自然人。\n\n"
        "The device must be\nregistered before use.\n"
    )

    doc = parse_document(md.encode(), "terms.md", None, LIMITS)

    # Then each clause keeps its line, and the wrapped sentence is one line again
    paragraphs = texts(doc.blocks, "paragraph")
    assert "1.1 “云帆”指云帆公司\n1.2 “用户”指注册的自然人。" in paragraphs
    assert "The device must be registered before use." in paragraphs


def test_plain_text_title_and_section_labels_become_headings():
    txt = "云帆空气净化器 P3 说明书\n\n一、产品参数\n适用面积：35–60 平方米\n额定功率：48 瓦\n\n请勿水洗滤芯。\n"

    doc = parse_document(txt.encode(), "p3.txt", None, LIMITS)

    assert doc.title == "云帆空气净化器 P3 说明书"
    assert [(b.text, b.level) for b in doc.blocks if b.kind == "heading"] == [
        ("云帆空气净化器 P3 说明书", 1),
        ("一、产品参数", 2),
    ]
    body = [b for b in doc.blocks if b.kind == "paragraph"]
    assert body[0].text == "适用面积：35–60 平方米\n额定功率：48 瓦"
    assert body[0].heading_path == ["云帆空气净化器 P3 说明书", "一、产品参数"]
    assert body[1].text == "请勿水洗滤芯。"
