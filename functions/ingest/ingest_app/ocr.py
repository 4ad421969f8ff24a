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

from __future__ import annotations

import base64
import io
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "IMAGE_CONTENT_TYPES",
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
    "ocr_image_bytes",
    "ocr_pdf_pages",
    "pages_needing_ocr",
    "pdf_page_texts",
]

# Content types the ingest routes to OCR (the bytes still decide: see ``ocr_image_bytes``).
IMAGE_CONTENT_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG", "image/webp": "WEBP"}
# ~ an A3 page at 300 dpi (3508 x 4961 = 17 Mpx); a phone photo is 12 Mpx. Anything larger is
# either a poster (OCR would not help) or a decompression bomb.
MAX_IMAGE_PIXELS = 40_000_000
# A rendered PDF page never exceeds this many pixels: an A4 page at 200 dpi is 3.9 Mpx, and
# a page with a huge media box is rendered at a lower dpi instead of exhausting memory.
MAX_RENDER_PIXELS = 12_000_000
DEFAULT_DPI = 200

OcrErrorCode = Literal["unsupported_type", "corrupt", "encrypted", "too_large", "unavailable"]


class OcrError(Exception):
    """An image or page could not be read; ``reason`` is for the user, ``code`` for logic and metrics.

    ``unavailable`` (the vision service failed or refused) is temporary: the caller should
    retry the message, not fail the document. Every other code is a property of the file.
    """

    def __init__(self, reason: str, *, code: OcrErrorCode = "corrupt") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

    def __repr__(self) -> str:
        return f"OcrError(code={self.code!r}, reason={self.reason!r})"


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised line of text; ``box`` is (left, top, right, bottom) in image pixels when known."""

    text: str
    confidence: float | None = None
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class OcrResult:
    """Lines of one image in reading order, the engine that read them and how long it took."""

    lines: tuple[OcrLine, ...]
    engine: str
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """The lines joined with newlines (the parser splits paragraphs on them)."""
        return "\n".join(line.text for line in self.lines)

    @property
    def confidence(self) -> float | None:
        """Mean line confidence in [0, 1], weighted by line length; ``None`` when the engine gives none."""
        scored = [(line.confidence, max(len(line.text), 1)) for line in self.lines if line.confidence is not None]
        if not scored:
            return None
        return sum(c * w for c, w in scored) / sum(w for _, w in scored)


@dataclass(frozen=True, slots=True)
class PageText:
    """The OCR text of one PDF page (``page`` is 1-based, as chunk metadata shows it)."""

    page: int
    text: str
    confidence: float | None
    seconds: float
    lines: tuple[OcrLine, ...] = field(default=(), repr=False)


@runtime_checkable
class OcrEngine(Protocol):
    """Reads the text of one image. Implementations are reused across calls (load once per process)."""

    name: str

    def recognise(self, image: bytes | Image) -> OcrResult:
        """Lines in reading order. Raises ``OcrError`` for unreadable input or an unavailable service."""
        ...


# --------------------------------------------------------------------------- images


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def load_image(data: bytes | Image, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image:
    """An RGB Pillow image, upright (EXIF orientation applied), its size checked before decoding."""
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    if isinstance(data, PILImage.Image):
        image = data
    else:
        kind = _sniff_image(data)
        if kind is None:
            raise OcrError("The file is not a PNG, JPEG or WebP image.", code="unsupported_type")
        try:
            image = PILImage.open(io.BytesIO(data), formats=[kind])
        except PILImage.DecompressionBombError as exc:
            raise OcrError("The image has too many pixels to be read.", code="too_large") from exc
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise OcrError(f"The {kind} image is corrupt and cannot be read.", code="corrupt") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise OcrError(
            f"The image is {width} x {height} pixels; the limit is {max_pixels // 1_000_000} megapixels.",
            code="too_large",
        )
    try:
        image = ImageOps.exif_transpose(image) or image
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:  # truncated data surfaces only when decoding
        raise OcrError("The image is corrupt and cannot be read.", code="corrupt") from exc


def ocr_image_bytes(data: bytes, content_type: str | None, *, engine: OcrEngine | None = None) -> OcrResult:
    """OCR an uploaded PNG, JPEG or WebP image.

    The bytes decide the format, not ``content_type`` (a .jpg uploaded as ``image/png`` is
    common and harmless); the declared type only names what was refused in the error.
    """
    if _sniff_image(data) is None:
        declared = (content_type or "").split(";", 1)[0].strip().lower() or "unknown type"
        raise OcrError(f"Only PNG, JPEG and WebP images can be read (got {declared}).", code="unsupported_type")
    return (engine or default_engine()).recognise(load_image(data))


# --------------------------------------------------------------------------- the offline engine


@lru_cache(maxsize=1)
def _rapidocr_lite(threads: int) -> Any:
    """The RapidOCR lite engine, built once per process (~0.1 s: it maps the bundled models)."""
    from rapidocr import RapidOCR

    return RapidOCR(
        params={
            # Both sections must say "lite": the bundled Indra weights, read from the wheel.
            # Anything else resolves PP-OCRv6 ONNX files that RapidOCR downloads on first use.
            "Det.model_type": "lite",
            "Rec.model_type": "lite",
            "Global.use_cls": False,  # the lite pipeline deskews itself; it has no classifier
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        }
    )


class RapidOcrLiteEngine:
    """Offline OCR with ``rapidocrlite``'s bundled lite models (Chinese + Latin, reading order).

    Not in ``requirements-ocr.txt``: its Indra weights carry a modified OpenRAIL-M licence
    (revenue/funding caps, a non-compete clause, share-alike on output); see the module notes.

    The native engine is loaded on the first ``recognise`` and shared by every instance in the
    process; calls are serialised because one native handle is not safe to use from two
    threads at once (the local runtime may invoke the handler from several).
    """

    name = "rapidocrlite-lite"
    _lock = threading.Lock()

    def __init__(self, *, threads: int = 1, min_confidence: float = 0.5) -> None:
        self.threads = threads
        self.min_confidence = min_confidence

    def __repr__(self) -> str:
        return f"RapidOcrLiteEngine(threads={self.threads}, min_confidence={self.min_confidence})"

    def recognise(self, image: bytes | Image) -> OcrResult:
        picture = load_image(image)
        started = time.perf_counter()
        with self._lock:
            try:
                output = _rapidocr_lite(self.threads)(picture)
            except ImportError as exc:
                raise OcrError("OCR is not installed in this deployment.", code="unavailable") from exc
            except Exception as exc:
                raise OcrError("The image could not be read by the OCR engine.", code="corrupt") from exc
        lines = []
        for text, score, box in zip(output.txts or (), output.scores or (), _boxes(output.boxes), strict=False):
            text = str(text).strip()
            if text and float(score) >= self.min_confidence:
                lines.append(OcrLine(text=text, confidence=round(float(score), 4), box=box))
        return OcrResult(lines=tuple(lines), engine=self.name, seconds=time.perf_counter() - started)


def _boxes(boxes: Any) -> Iterator[tuple[int, int, int, int] | None]:
    if boxes is None:
        return
    for quad in boxes:
        xs = [float(point[0]) for point in quad]
        ys = [float(point[1]) for point in quad]
        yield (math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys)))


# --------------------------------------------------------------------------- faster-paddle


@lru_cache(maxsize=2)
def _faster_paddle(model_size: str, threads: int) -> Any:
    """One faster-paddle engine per (size, threads) per process (~0.05 s: models are in the wheel)."""
    from faster_paddle import OcrEngine as FasterPaddleOcr

    # "tiny" and "small" ship inside the wheel; "medium" would download, so it is not allowed.
    return FasterPaddleOcr(model_size=model_size, threads=threads)


def reading_order(lines: Iterable[OcrLine]) -> list[OcrLine]:
    """Lines by rows (tops within half a line height are one row), then left to right in a row."""
    placed = sorted((line for line in lines if line.box), key=lambda line: (line.box[1], line.box[0]))  # type: ignore[index]
    rows: list[list[OcrLine]] = []
    for line in placed:
        top, height = line.box[1], line.box[3] - line.box[1]  # type: ignore[index]
        if rows:
            first = rows[-1][0].box
            assert first is not None
            if top - first[1] < 0.5 * max(first[3] - first[1], height, 1):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda item: item.box[0])]  # type: ignore[index]


class FasterPaddleEngine:
    """Offline OCR with ``faster-paddle`` (PP-OCRv6 in Rust + a linked ONNX Runtime; MIT code,
    Apache-2.0 PaddleOCR weights bundled in the wheel).

    ``tiny`` (default): ~0.6 s per A4 page on one thread, 99.6-99.9 % character accuracy on
    our bilingual pages, every code and price read; ``small``: exact on our pages at ~2.3 s.
    The package's own ``text`` field reorders rows into columns on left-aligned pages, so the
    lines are put in reading order here from their boxes.
    """

    name = "faster-paddle"
    _lock = threading.Lock()

    def __init__(self, *, model_size: Literal["tiny", "small"] = "tiny", threads: int = 1, min_confidence: float = 0.5):
        if model_size not in ("tiny", "small"):
            raise ValueError("only the bundled models (tiny, small) work offline")
        self.model_size = model_size
        self.threads = threads
        self.min_confidence = min_confidence

    def __repr__(self) -> str:
        return f"FasterPaddleEngine(model_size={self.model_size!r}, threads={self.threads})"

    def recognise(self, image: bytes | Image) -> OcrResult:
        picture = load_image(image)
        buffer = io.BytesIO()
        picture.save(buffer, format="BMP")  # uncompressed: the cheapest encoding for a hand-over
        started = time.perf_counter()
        with self._lock:
            try:
                output = _faster_paddle(self.model_size, self.threads).ocr(buffer.getvalue())
            except ImportError as exc:
                raise OcrError("OCR is not installed in this deployment.", code="unavailable") from exc
            except Exception as exc:
                raise OcrError("The image could not be read by the OCR engine.", code="corrupt") from exc
        lines = []
        for bound in (output.get("bounds") or {}).values():
            text = str(bound.get("text") or "").strip()
            confidence = float(bound.get("confidence") or 0.0)
            if not text or confidence < self.min_confidence:
                continue
            (left, top), (right, bottom) = bound["topLeftCoord"], bound["bottomRightCoord"]
            lines.append(OcrLine(text, round(confidence, 4), (int(left), int(top), int(right), int(bottom))))
        return OcrResult(
            lines=tuple(reading_order(lines)),
            engine=f"{self.name}-{self.model_size}",
            seconds=time.perf_counter() - started,
        )


OFFLINE_ENGINES: dict[str, Callable[[], OcrEngine]] = {
    "faster-paddle-tiny": lambda: FasterPaddleEngine(model_size="tiny"),
    "faster-paddle-small": lambda: FasterPaddleEngine(model_size="small"),
    "rapidocrlite-lite": RapidOcrLiteEngine,
}
DEFAULT_OFFLINE_ENGINE = "faster-paddle-tiny"


@lru_cache(maxsize=4)
def default_engine(name: str = DEFAULT_OFFLINE_ENGINE) -> OcrEngine:
    """The offline engine the helpers use when none is given (one per name per process).

    The ingest wiring passes the configured name (a setting validated at cold start);
    unknown names raise ``ValueError`` there rather than at the first scanned page.
    """
    try:
        factory = OFFLINE_ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown OCR engine {name!r}; choose one of {sorted(OFFLINE_ENGINES)}") from None
    return factory()


# --------------------------------------------------------------------------- PDFs

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


# --------------------------------------------------------------------------- Zhipu vision

VISION_PROMPT = (
    "You are an OCR engine. Transcribe all text in this image exactly as written, in reading "
    "order, one line of the image per line of output. Keep Chinese and English as they are; "
    "do not translate, summarise, describe the image or add commentary. If there is no text, "
    "answer with nothing."
)
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


class ZhipuVisionOcr:
    """OCR by a Zhipu GLM-4V model through the ``zhipuai`` SDK (chat completions with an image).

    The image is sent inline as a ``data:`` URL: re-encoded as JPEG at quality 90 (text stays
    legible at a fraction of a PNG's bytes) with its long side capped at ``max_side`` pixels
    (the service takes at most 5 MB per image). The
    model gives no confidence, so ``OcrResult.confidence`` is ``None``. SDK failures become
    ``OcrError(code="unavailable")`` (retry the message later) or, for a rejected request,
    ``OcrError(code="corrupt")``.
    """

    name = "zhipu-vision"

    def __init__(
        self,
        api_key: str,
        *,
        model: str = "glm-4v-flash",
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_side: int = 2048,
        client: Any = None,
    ) -> None:
        if not api_key and client is None:
            raise ValueError("ZhipuVisionOcr needs an API key")
        self._api_key = api_key
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_side = max_side
        self._client = client

    def __repr__(self) -> str:
        return f"ZhipuVisionOcr(model={self.model!r}, base_url={self.base_url!r})"

    def _sdk(self) -> Any:
        if self._client is None:
            import httpx
            from zhipuai import ZhipuAI

            self._client = ZhipuAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=httpx.Timeout(self.timeout_s, connect=5.0),
                max_retries=0,  # the queue retries the message; the SDK's sleeps ignore the Lambda deadline
            )
        return self._client

    def image_data_url(self, image: bytes | Image) -> str:
        """The image as a ``data:image/jpeg;base64,…`` URL, its long side capped at ``max_side``."""
        picture = load_image(image)
        if max(picture.size) > self.max_side:
            picture = picture.copy()
            picture.thumbnail((self.max_side, self.max_side))
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=90)
        return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def build_request(self, image: bytes | Image) -> dict[str, Any]:
        """Keyword arguments of ``client.chat.completions.create`` for one image."""
        return {
            "model": self.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": self.image_data_url(image)}},
                        {"type": "text", "text": VISION_PROMPT},
                    ],
                }
            ],
            "temperature": 0.01,  # Zhipu rejects 0; transcription wants no sampling
            "stream": False,
        }

    @staticmethod
    def parse_response(completion: Any) -> tuple[OcrLine, ...]:
        """Lines of the model's answer (a Markdown code fence around it is removed)."""
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise OcrError("The vision model returned no answer.", code="unavailable")
        content = getattr(choices[0].message, "content", None) or ""
        if isinstance(content, list):  # some models answer with content parts
            content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        fenced = _FENCE.match(content)
        if fenced:
            content = fenced.group(1)
        return tuple(OcrLine(text=line.strip()) for line in content.splitlines() if line.strip())

    def recognise(self, image: bytes | Image) -> OcrResult:
        request = self.build_request(image)
        started = time.perf_counter()
        from zhipuai import APIStatusError, ZhipuAIError

        try:
            completion = self._sdk().chat.completions.create(**request)
        except APIStatusError as exc:
            if exc.status_code in (400, 413, 422):
                raise OcrError("The vision model refused the image.", code="corrupt") from exc
            raise OcrError(f"The vision model is unavailable (HTTP {exc.status_code}).", code="unavailable") from exc
        except ZhipuAIError as exc:
            raise OcrError("The vision model could not be reached.", code="unavailable") from exc
        lines = self.parse_response(completion)
        return OcrResult(lines=lines, engine=f"{self.name}:{self.model}", seconds=time.perf_counter() - started)
