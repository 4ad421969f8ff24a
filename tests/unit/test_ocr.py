"""OCR seam: bilingual pages rendered at test time with Debian's CJK font, read by the offline engine.

Needs the apt package ``fonts-noto-cjk`` (the pages are drawn with Noto Sans CJK) and the
pip packages of ``functions/ocr/requirements.txt``. Nothing here touches the network:
the vision engine talks to the local Zhipu fake.
"""

from __future__ import annotations

import base64
import io
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from ingest_app.parsers import ParseLimits, parse_document
from ingest_app.parsers.textlayer import has_usable_text_layer
from ocr_app.engines import (
    FasterPaddleEngine,
    OcrEngine,
    OcrError,
    OcrLine,
    OcrResult,
    ZhipuVisionOcr,
    default_engine,
    iter_ocr_pdf_pages,
    ocr_image_bytes,
    ocr_pdf_pages,
    reading_order,
)
from tests.fakes.zhipu_fake import ZhipuFake
from tests.knowledge_helpers import encrypt_pdf, make_pdf
from tests.ocr_helpers import cjk_font_path, encoded, image_only_pdf, render_page
from tests.ocr_helpers import photographed as photograph

PAGE_ONE = (
    "产品说明书 Product Manual 第1页",
    "本产品支持七天无理由退货，请保留完整包装。",
    "Error code E1023 means the sensor is not connected.",
    "会员价格为¥1,299.00，活动截止到2026年12月31日。",
    "The annual plan costs $49.99 and includes priority support.",
    "客服热线400-820-1234，工作时间为早九点至晚六点。",
)
PAGE_TWO = (
    "售后服务指南 After-sales Guide 第2页",
    "保修期为两年，人为损坏不在保修范围内。",
    "Firmware version 3.12.1 fixes the Bluetooth pairing issue.",
    "如遇错误代码E2048，请先重启设备再联系客服。",
)


@pytest.fixture(scope="module")
def cjk_font() -> str:
    return cjk_font_path()


def drawn(lines: tuple[str, ...]) -> Image.Image:
    """An A4 page at 150 dpi, one line per row, in the Noto CJK font (15 pt body)."""
    return render_page(list(lines), body_pt=30)


def photographed(image: Image.Image) -> Image.Image:
    """A harsher phone photo than the e2e scans': more tilt, tint and blur."""
    return photograph(image, angle=1.8, tint=0.25, blur=1.0)


def squeeze(text: str) -> str:
    return "".join(text.split())


def char_accuracy(truth: str, recognised: str) -> float:
    """1 − CER over the texts with all whitespace removed (Levenshtein distance)."""
    a, b = squeeze(truth), squeeze(recognised)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), 1)


# --------------------------------------------------------------------------- the offline engine


def test_default_engine_reads_a_bilingual_page_with_its_codes_prices_and_chinese(cjk_font: str) -> None:
    # Given a clean scan of a Chinese + English page
    page = drawn(PAGE_ONE)

    # When the default offline engine reads it
    engine = default_engine()
    result = engine.recognise(encoded(page, "PNG"))

    # Then nearly every character is right, and the tokens people search for are verbatim
    assert isinstance(engine, OcrEngine)
    text = squeeze(result.text)
    assert char_accuracy("\n".join(PAGE_ONE), result.text) >= 0.97, result.text
    for token in ("E1023", "¥1,299.00", "$49.99", "400-820-1234", "七天无理由退货", "ProductManual"):
        assert token in text, f"{token!r} not in {result.text!r}"
    # in reading order, one line per row, with a confidence
    assert squeeze(result.lines[0].text).startswith("产品说明书")
    assert "E1023" in result.lines[2].text
    assert result.confidence is not None and 0.9 <= result.confidence <= 1.0


def test_a_photographed_jpeg_upload_is_read(cjk_font: str) -> None:
    # Given a phone photo of the page, uploaded as image/jpeg
    photo = encoded(photographed(drawn(PAGE_ONE)), "JPEG", quality=75)

    # When it goes through the image helper
    result = ocr_image_bytes(photo, "image/jpeg")

    # Then the text survives tilt, tint, blur and compression
    assert char_accuracy("\n".join(PAGE_ONE), result.text) >= 0.95, result.text
    assert "E1023" in squeeze(result.text)
    assert "七天无理由退货" in squeeze(result.text)


def test_webp_is_accepted_and_the_bytes_decide_over_a_wrong_image_type(cjk_font: str) -> None:
    webp = encoded(drawn(PAGE_TWO), "WEBP", quality=90)
    result = ocr_image_bytes(webp, "image/png")  # mislabelled: the bytes are WebP
    assert "E2048" in squeeze(result.text)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"%PDF-1.7 not an image", "image/png"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
        (b"", None),
    ],
)
def test_anything_but_png_jpeg_webp_is_refused(data: bytes, content_type: str | None) -> None:
    with pytest.raises(OcrError) as caught:
        ocr_image_bytes(data, content_type)
    assert caught.value.code == "unsupported_type"


@pytest.mark.parametrize("size", [(9000, 6000), (15000, 15000)])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(size: tuple[int, int]) -> None:
    # One-bit pixels compress to a few kB but decode to 54 (our limit) or 225 (Pillow's) megapixels
    bomb = encoded(Image.new("1", size), "PNG")
    assert len(bomb) < 100_000
    with pytest.raises(OcrError) as caught:
        ocr_image_bytes(bomb, "image/png")
    assert caught.value.code == "too_large"
    assert "pixels" in caught.value.reason


def test_a_truncated_image_fails_as_corrupt(cjk_font: str) -> None:
    png = encoded(drawn(PAGE_TWO), "PNG")
    with pytest.raises(OcrError) as caught:
        ocr_image_bytes(png[: len(png) // 3], "image/png")
    assert caught.value.code == "corrupt"


def test_reading_order_puts_rows_top_to_bottom_and_left_to_right() -> None:
    lines = [
        OcrLine("second row", 0.9, (100, 200, 400, 230)),
        OcrLine("right", 0.9, (500, 104, 700, 134)),
        OcrLine("left", 0.9, (100, 100, 300, 130)),
    ]
    assert [line.text for line in reading_order(lines)] == ["left", "right", "second row"]


def test_rapidocrlite_lite_engine_reads_the_page_offline(cjk_font: str) -> None:
    # The faster, smaller alternative (see benchmarks/results/ocr.md for its licence caveat).
    pytest.importorskip("rapidocr", reason="rapidocrlite is optional (not in requirements-ocr.txt)")
    from ocr_app.engines import RapidOcrLiteEngine

    result = RapidOcrLiteEngine().recognise(drawn(PAGE_ONE))
    assert char_accuracy("\n".join(PAGE_ONE), result.text) >= 0.97, result.text
    assert "E1023" in squeeze(result.text)


# --------------------------------------------------------------------------- PDFs


def test_two_scanned_pdf_pages_come_back_with_their_page_numbers(cjk_font: str) -> None:
    # Given a scanned PDF: two pages that are only pictures
    pdf = image_only_pdf([drawn(PAGE_ONE), drawn(PAGE_TWO)])

    # When both pages are OCR'd (asked for out of order)
    pages = ocr_pdf_pages(pdf, [2, 1], dpi=150)

    # Then each page's text comes back under its own 1-based number
    assert [page.page for page in pages] == [2, 1]
    by_number = {page.page: squeeze(page.text) for page in pages}
    assert "E2048" in by_number[2] and "E1023" not in by_number[2]
    assert "E1023" in by_number[1] and "七天无理由退货" in by_number[1]
    assert char_accuracy("\n".join(PAGE_TWO), by_number[2]) >= 0.97
    assert all(page.confidence is not None and page.seconds > 0 for page in pages)


def test_page_iteration_stops_when_asked_and_rejects_pages_outside_the_document(cjk_font: str) -> None:
    pdf = image_only_pdf([drawn(PAGE_ONE), drawn(PAGE_TWO)])
    calls = []

    def out_of_time() -> bool:
        calls.append(1)
        return len(calls) > 1  # time for one page only

    done = list(iter_ocr_pdf_pages(pdf, [1, 2], dpi=100, should_stop=out_of_time))
    assert [page.page for page in done] == [1]
    with pytest.raises(ValueError, match="outside the document"):
        ocr_pdf_pages(pdf, [3])


def test_a_corrupt_pdf_fails_cleanly() -> None:
    with pytest.raises(OcrError) as caught:
        ocr_pdf_pages(b"%PDF-1.4\n1 0 obj garbage", [1])
    assert caught.value.code == "corrupt"


def _mixed_pdf(text_lines: tuple[str, ...], scan: Image.Image) -> bytes:
    """Page 1 with a real text layer (reportlab's built-in STSong CID font), page 2 only a picture."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont("STSong-Light", 12)
    for row, line in enumerate(text_lines):
        pdf.drawString(60, 780 - 20 * row, line)
    pdf.showPage()
    pdf.drawImage(ImageReader(scan), 0, 0, width=A4[0], height=A4[1])
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_the_text_layer_detector_tells_text_pages_from_scanned_ones(cjk_font: str) -> None:
    # Given a text PDF, a scanned one, and a mixed one (text page, then a scanned page)
    scan = drawn(PAGE_TWO)
    text_only = make_pdf([list(PAGE_ONE), list(PAGE_TWO)])
    scanned = image_only_pdf([drawn(PAGE_ONE), scan])
    mixed = _mixed_pdf(PAGE_ONE, scan)

    # When ingest's parser reads them
    def parse(pdf: bytes, ocr_text: dict[int, str] | None = None):
        return parse_document(pdf, "manual.pdf", "application/pdf", ParseLimits(), ocr_text)

    # Then only the pages without a usable text layer wait for OCR
    assert parse(text_only).ocr_missing == []
    assert parse(scanned).ocr_missing == [1, 2]
    waiting = parse(mixed)
    assert waiting.ocr_pages == [2] and waiting.ocr_missing == [2]
    assert {block.page for block in waiting.blocks} == {1}  # the text layer is kept meanwhile
    # and the scanned page of the mixed PDF reads as page 2, then joins page 1 in page order
    (page,) = ocr_pdf_pages(mixed, [2], dpi=150)
    assert page.page == 2 and "E2048" in squeeze(page.text)
    done = parse(mixed, {2: page.text})
    assert done.ocr_missing == [] and done.parser == "pypdf+ocr"
    pages = [block.page for block in done.blocks]
    assert pages == sorted(pages) and pages[-1] == 2
    assert any("E2048" in squeeze(block.text) for block in done.blocks if block.page == 2)


def test_scanned_pages_over_the_ocr_limit_are_refused_before_any_ocr(cjk_font: str) -> None:
    from ingest_app.parsers import DocumentRejected

    scanned = image_only_pdf([drawn(PAGE_ONE)] * 3)
    with pytest.raises(DocumentRejected) as caught:
        parse_document(scanned, "scan.pdf", "application/pdf", ParseLimits(max_ocr_pages=2))
    assert caught.value.code == "too_many_pages"
    assert "3 scanned pages" in caught.value.reason and "limit is 2" in caught.value.reason


def test_an_encrypted_pdf_fails_as_encrypted() -> None:
    locked = encrypt_pdf(make_pdf([list(PAGE_ONE)]), user_password="secret")
    with pytest.raises(OcrError) as caught:
        ocr_pdf_pages(locked, [1])
    assert caught.value.code == "encrypted"


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("本产品支持七天无理由退货，请保留完整包装。Error code E1023 means the sensor is offline.", True),
        ("", False),
        (None, False),
        ("  12  \n", False),  # a scanned page whose only text is its page number
        ("(cid:12)(cid:57)(cid:3)(cid:88)(cid:102)(cid:4)(cid:77)" * 3, False),  # fonts without a Unicode map
        ("\ue001\ue002\ue003\ue004" * 10, False),  # private-use glyph codes
        ("\x01\x02\x03\x04\x05\x06" * 10 + "ok", False),  # control characters
    ],
)
def test_usable_text_layer_thresholds(text: str | None, usable: bool) -> None:
    assert has_usable_text_layer(text) is usable


# --------------------------------------------------------------------------- Zhipu vision


@pytest.fixture
def zhipu():
    with ZhipuFake() as fake:
        yield fake


def test_vision_ocr_sends_the_image_as_a_data_url_to_the_configured_model(zhipu: ZhipuFake, cjk_font: str) -> None:
    # Given the vision engine pointed at the local Zhipu fake, with a non-default model
    engine = ZhipuVisionOcr(zhipu.api_key, base_url=zhipu.base_url, model="glm-4v-plus", max_side=1000)
    page = drawn(PAGE_ONE)

    # When it reads a page
    result = engine.recognise(encoded(page, "PNG"))

    # Then the SDK posted one chat completion with the image inline and the transcription prompt
    (request,) = zhipu.requests_to("/chat/completions")
    assert request.body["model"] == "glm-4v-plus"
    (message,) = request.body["messages"]
    image_part, text_part = message["content"]
    # (we build a data: URL; the SDK strips its "data:image/jpeg;base64," prefix on the wire)
    assert engine.build_request(page)["messages"][0]["content"][0]["image_url"]["url"].startswith(
        "data:image/jpeg;base64,"
    )
    sent = Image.open(io.BytesIO(base64.b64decode(image_part["image_url"]["url"].split("base64,")[-1])))
    assert sent.format == "JPEG"
    assert max(sent.size) == 1000  # downscaled to max_side
    assert "Transcribe" in text_part["text"]
    # and the answer came back as lines, without a confidence (the model gives none)
    assert result.engine == "zhipu-vision:glm-4v-plus"
    assert result.lines and result.lines[0].text.startswith("[glm-4v-plus]")
    assert result.confidence is None


def test_vision_ocr_rate_limits_are_temporary_failures(zhipu: ZhipuFake, cjk_font: str) -> None:
    zhipu.fail_next(status=429, code="1302")
    engine = ZhipuVisionOcr(zhipu.api_key, base_url=zhipu.base_url)
    with pytest.raises(OcrError) as caught:
        engine.recognise(drawn(PAGE_TWO))
    assert caught.value.code == "unavailable"
    assert zhipu.api_key not in caught.value.reason


def test_vision_answers_lose_their_code_fence_and_blank_lines() -> None:
    completion = SimpleNamespace(
        choices=[
            SimpleNamespace(message=SimpleNamespace(content="```text\n第一行 E1023\n\nSecond line ¥1,299.00\n```"))
        ]
    )
    lines = ZhipuVisionOcr.parse_response(completion)
    assert [line.text for line in lines] == ["第一行 E1023", "Second line ¥1,299.00"]
    assert OcrResult(lines=lines, engine="x").text == "第一行 E1023\nSecond line ¥1,299.00"


def test_vision_engine_without_a_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="API key"):
        ZhipuVisionOcr("")


def test_only_bundled_faster_paddle_models_are_allowed() -> None:
    with pytest.raises(ValueError, match="bundled"):
        FasterPaddleEngine(model_size="medium")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- which engine


def _settings(**env: str) -> Any:
    from claw_common.settings import Settings

    return Settings(DATABASE_URL="postgresql://unused", REDIS_URL="redis://unused", **env)


def test_the_vision_engine_is_chosen_by_name_and_reads_through_the_zhipu_fake(zhipu: ZhipuFake, cjk_font: str) -> None:
    from ocr_app.engine_choice import engine_for

    settings = _settings(ZHIPUAI_API_KEY=zhipu.api_key, ZHIPUAI_BASE_URL=zhipu.base_url)
    engine = engine_for(settings, "zhipu-vision", "glm-4v-plus")

    result = engine.recognise(encoded(drawn(PAGE_TWO), "PNG"))

    assert result.engine == "zhipu-vision:glm-4v-plus" and result.lines
    assert isinstance(engine_for(settings, "faster-paddle-tiny", "glm-4v-plus"), FasterPaddleEngine)


def test_the_vision_engine_without_a_key_fails_the_range_as_temporary() -> None:
    from ocr_app.engine_choice import engine_for

    with pytest.raises(OcrError) as caught:
        engine_for(_settings(), "zhipu-vision", "glm-4v-flash")
    assert caught.value.code == "unavailable"


def test_the_ocr_config_key_names_only_known_engines() -> None:
    from claw_common.config.schema import parse_config, value_errors

    assert parse_config("ingest.ocr", {"engine": "zhipu-vision"}).vision_model == "glm-4v-flash"
    assert value_errors("ingest.ocr", {"engine": "tesseract"})
    assert not value_errors(
        "ingest.limits",
        {t: {"max_bytes": 1, "max_pages": 1, "max_ocr_pages": 5} for t in ("free", "pro", "enterprise")},
    )
