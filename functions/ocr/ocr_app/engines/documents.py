"""Images and PDF pages into text.

The ingest function decides which PDF pages lack a usable text layer; this function renders
those with pypdfium2 (``iter_ocr_pdf_pages`` stops when the caller runs out of time, so a long
scan continues in another invocation) and reads uploaded images with ``ocr_image_bytes``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ocr_app.engines.base import OcrEngine, OcrError, OcrResult, PageText, load_image, sniff_image_format
from ocr_app.engines.offline import default_engine

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
