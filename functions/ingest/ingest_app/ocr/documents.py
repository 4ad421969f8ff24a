"""Images and PDF pages into text: the helpers the parser calls, and the text-layer test.

The parser OCRs only PDF pages without a usable text layer (``pages_needing_ocr``), renders
them with pypdfium2 (``iter_ocr_pdf_pages`` stops when the caller runs out of time, so a long
scan can continue in another invocation) and reads uploaded images with ``ocr_image_bytes``.
"""

from __future__ import annotations

import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ingest_app.ocr.base import OcrEngine, OcrError, OcrResult, PageText, load_image, sniff_image_format
from ingest_app.ocr.offline import default_engine

if TYPE_CHECKING:
    from PIL.Image import Image


# A rendered PDF page never exceeds this many pixels: an A4 page at 200 dpi is 3.9 Mpx, and
# a page with a huge media box is rendered at a lower dpi instead of exhausting memory.
MAX_RENDER_PIXELS = 12_000_000
DEFAULT_DPI = 200


def ocr_image_bytes(data: bytes, content_type: str | None, *, engine: OcrEngine | None = None) -> OcrResult:
    """OCR an uploaded PNG, JPEG or WebP image.

    The bytes decide the format, not ``content_type`` (a .jpg uploaded as ``image/png`` is
    common and harmless); the declared type only names what was refused in the error.
    """
    if sniff_image_format(data) is None:
        declared = (content_type or "").split(";", 1)[0].strip().lower() or "unknown type"
        raise OcrError(f"Only PNG, JPEG and WebP images can be read (got {declared}).", code="unsupported_type")
    return (engine or default_engine()).recognise(load_image(data))


# PDFium is not thread-safe, and the local runtime and tests may run handlers in threads:
# every PDFium call holds this lock (OCR itself runs outside it).
_PDFIUM = threading.RLock()


def _open_pdf(pdf_bytes: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        with _PDFIUM:
            return pdfium.PdfDocument(pdf_bytes)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():  # pdfium's only signal for it: FPDF_ERR_PASSWORD's text
            raise OcrError("The PDF is encrypted with a password.", code="encrypted") from exc
        raise OcrError("The PDF is corrupt and cannot be rendered.", code="corrupt") from exc


def _render_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> float:
    scale = dpi / 72
    pixels = width_pt * scale * height_pt * scale
    if pixels > max_pixels:
        scale *= math.sqrt(max_pixels / pixels)
    return scale


def iter_ocr_pdf_pages(
    pdf_bytes: bytes,
    page_numbers: Iterable[int],
    *,
    dpi: int = DEFAULT_DPI,
    engine: OcrEngine | None = None,
    max_pixels: int = MAX_RENDER_PIXELS,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[PageText]:
    """Render and OCR the given 1-based pages one at a time, yielding each as it is read.

    ``should_stop`` is asked before every page (e.g. "is the Lambda's remaining time below one
    page's worth?"); when it answers True the iteration ends, and the caller records where it
    stopped and queues the rest. Pages outside the document raise ``ValueError``.
    """
    reader = engine or default_engine()
    document = _open_pdf(pdf_bytes)
    try:
        with _PDFIUM:
            count = len(document)
        for number in page_numbers:
            if not 1 <= number <= count:
                raise ValueError(f"page {number} is outside the document (1..{count})")
            if should_stop is not None and should_stop():
                return
            started = time.perf_counter()
            image = _render_page(document, number, dpi, max_pixels)
            result = reader.recognise(image)
            yield PageText(
                page=number,
                text=result.text,
                confidence=result.confidence,
                seconds=time.perf_counter() - started,
                lines=result.lines,
            )
    finally:
        with _PDFIUM:
            document.close()


def _render_page(document: Any, number: int, dpi: int, max_pixels: int) -> Image:
    with _PDFIUM:
        page = document[number - 1]
        try:
            width, height = page.get_size()
            scale = _render_scale(width, height, dpi, max_pixels)
            try:
                return page.render(scale=scale, may_draw_forms=True).to_pil()
            except Exception as exc:
                raise OcrError(f"Page {number} of the PDF cannot be rendered.", code="corrupt") from exc
        finally:
            page.close()


def ocr_pdf_pages(
    pdf_bytes: bytes,
    page_numbers: Iterable[int],
    *,
    dpi: int = DEFAULT_DPI,
    engine: OcrEngine | None = None,
    max_pixels: int = MAX_RENDER_PIXELS,
) -> list[PageText]:
    """OCR the given 1-based pages of a PDF (rendered with pypdfium2 at ``dpi``), in the order given."""
    return list(iter_ocr_pdf_pages(pdf_bytes, page_numbers, dpi=dpi, engine=engine, max_pixels=max_pixels))


_USEFUL_CATEGORIES = ("L", "N", "P", "S")  # letters, digits, punctuation, symbols (CJK are "Lo")
_LIGATURE_GARBAGE = re.compile(r"\(cid:\d+\)")  # what extractors print for glyphs without a Unicode map


def has_usable_text_layer(text: str | None, *, min_chars: int = 20, min_printable_ratio: float = 0.9) -> bool:
    """Whether a page's extracted text is real text worth keeping instead of OCR.

    Usable means at least ``min_chars`` non-space characters, of which at least
    ``min_printable_ratio`` are ordinary letters, digits, punctuation or symbols: not control
    characters, private-use code points, U+FFFD or ``(cid:NN)`` placeholders (fonts without a
    Unicode map extract as those). A scanned page has no text or just a page number; a page
    whose fonts lost their encoding extracts as garbage; both are OCR'd.
    """
    if not text:
        return False
    cleaned = _LIGATURE_GARBAGE.sub("\ufffd", text)
    visible = [ch for ch in cleaned if not ch.isspace()]
    if len(visible) < min_chars:
        return False
    good = sum(1 for ch in visible if ch != "\ufffd" and unicodedata.category(ch)[0] in _USEFUL_CATEGORIES)
    return good >= min_chars and good / len(visible) >= min_printable_ratio


def pdf_page_texts(pdf_bytes: bytes) -> list[str]:
    """The text layer of every page (pypdfium2's extraction; empty string for a page without one)."""
    document = _open_pdf(pdf_bytes)
    texts = []
    with _PDFIUM:
        try:
            for index in range(len(document)):
                page = document[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        texts.append(textpage.get_text_bounded())
                    finally:
                        textpage.close()
                finally:
                    page.close()
        finally:
            document.close()
    return texts


def pages_needing_ocr(pdf_bytes: bytes, *, min_chars: int = 20, min_printable_ratio: float = 0.9) -> list[int]:
    """1-based numbers of the pages without a usable text layer (see ``has_usable_text_layer``)."""
    return [
        number
        for number, text in enumerate(pdf_page_texts(pdf_bytes), start=1)
        if not has_usable_text_layer(text, min_chars=min_chars, min_printable_ratio=min_printable_ratio)
    ]
