"""Offline OCR engines whose wheels ship their models (no download at run time), one thread each."""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from ocr_app.engines.base import OcrEngine, OcrError, OcrLine, OcrResult, load_image

if TYPE_CHECKING:
    from PIL.Image import Image


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
