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
``iter_ocr_pdf_pages`` (render chosen pages with pypdfium2, OCR each, stop when told). Which
pages need OCR is decided by the ingest function (``ingest_app.parsers.textlayer``), which
keeps the text layer where it exists.

Untrusted input: images are size-checked from their header before they are decoded (a
decompression bomb fails as ``OcrError(code="too_large")``), PDF pages are rendered at a
scale capped by a pixel budget, and every library failure ends as ``OcrError`` with a
``code`` and a reason a user can read. Heavy imports (Pillow, pypdfium2, the engine) happen
on first use. Engines run on one thread (the OCR Lambda has about one vCPU at 2 GB) and are
loaded once per process.
"""

from ocr_app.engines.base import (
    IMAGE_CONTENT_TYPES,
    MAX_IMAGE_PIXELS,
    OcrEngine,
    OcrError,
    OcrLine,
    OcrResult,
    PageText,
    load_image,
)
from ocr_app.engines.documents import (
    DEFAULT_DPI,
    MAX_RENDER_PIXELS,
    iter_ocr_pdf_pages,
    ocr_image_bytes,
    ocr_pdf_pages,
)
from ocr_app.engines.offline import (
    DEFAULT_OFFLINE_ENGINE,
    OFFLINE_ENGINES,
    FasterPaddleEngine,
    RapidOcrLiteEngine,
    default_engine,
    reading_order,
)
from ocr_app.engines.vision import ZhipuVisionOcr

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
    "iter_ocr_pdf_pages",
    "load_image",
    "ocr_image_bytes",
    "ocr_pdf_pages",
    "reading_order",
]
