"""OCR for scanned PDFs and pictures of documents: the seam the parser reads images through.

``OcrEngine`` is the seam: ``recognise(image) -> OcrResult`` (lines in reading order and
their mean confidence). Implementations:

* ``FasterPaddleEngine`` (the default, offline): ``faster-paddle``'s PP-OCRv6 *tiny* model,
  bundled in its wheel (MIT code, Apache-2.0 PaddleOCR weights). Chosen by measurement
  (``python -m benchmarks.ocr``, ``benchmarks/results/ocr.md``): 99.6-99.9 % character
  accuracy on Chinese and English rows, clean or photographed, every code and price read,
  ~0.6 s per A4 page on one thread, no Python onnxruntime or OpenCV.
* ``RapidOcrLiteEngine`` (offline, opt-in): ``rapidocrlite`` with its bundled "lite" models:
  3x faster and ~20 MB smaller, as accurate on characters, but its weights are under a
  modified OpenRAIL-M licence with commercial restrictions (see the results file); only
  switch to it once that is cleared. Both ``Det`` and ``Rec`` must name the ``lite`` model
  type, or the package resolves other models and downloads them.
* ``ZhipuVisionOcr`` (with a Zhipu key): a GLM-4V model reads the page through the
  ``zhipuai`` SDK's chat completions, the image sent as a ``data:`` URL.

Helpers: ``ocr_image_bytes`` (PNG, JPEG, WebP uploads), ``ocr_pdf_pages`` /
``iter_ocr_pdf_pages`` (render chosen pages with pypdfium2, OCR each, stop when told), and
``has_usable_text_layer`` / ``pages_needing_ocr`` so the parser OCRs only pages whose text
layer is missing or garbage, keeping the text layer where it exists.

Untrusted input: images are size-checked from their header before they are decoded (a
decompression bomb fails as ``OcrError(code="too_large")``), PDF pages are rendered at a
scale capped by a pixel budget, and every library failure ends as ``OcrError`` with a
``code`` and a reason a user can read. Heavy imports (Pillow, pypdfium2, the engine) happen
on first use, so the ingest cold start pays for them only when a document needs OCR.
Engines run on one thread (the ingest Lambda has about one vCPU) and are loaded once per
process.
"""

from ingest_app.ocr.base import (
    IMAGE_CONTENT_TYPES,
    MAX_IMAGE_PIXELS,
    OcrEngine,
    OcrError,
    OcrLine,
    OcrResult,
    PageText,
    load_image,
)
from ingest_app.ocr.documents import (
    DEFAULT_DPI,
    MAX_RENDER_PIXELS,
    has_usable_text_layer,
    iter_ocr_pdf_pages,
    ocr_image_bytes,
    ocr_pdf_pages,
    pages_needing_ocr,
    pdf_page_texts,
)
from ingest_app.ocr.offline import (
    DEFAULT_OFFLINE_ENGINE,
    OFFLINE_ENGINES,
    FasterPaddleEngine,
    RapidOcrLiteEngine,
    default_engine,
    reading_order,
)
from ingest_app.ocr.vision import ZhipuVisionOcr

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_OFFLINE_ENGINE",
    "IMAGE_CONTENT_TYPES",
    "MAX_IMAGE_PIXELS",
    "MAX_RENDER_PIXELS",
    "OFFLINE_ENGINES",
    "FasterPaddleEngine",
    "OcrEngine",
    "OcrError",
    "OcrLine",
    "OcrResult",
    "PageText",
    "RapidOcrLiteEngine",
    "ZhipuVisionOcr",
    "default_engine",
    "has_usable_text_layer",
    "iter_ocr_pdf_pages",
    "load_image",
    "ocr_image_bytes",
    "ocr_pdf_pages",
    "pages_needing_ocr",
    "pdf_page_texts",
    "reading_order",
]
