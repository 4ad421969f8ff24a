"""The OCR candidates, each behind the same two calls: ``load()`` once, ``lines(png_bytes)`` per page.

Every engine runs on one thread (the ingest Lambda has about one vCPU at its memory size,
and the benchmark machine is shared), uses only models shipped inside its package, and
returns text lines in reading order (top to bottom, then left to right).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def reading_order(boxes: list[tuple[float, float, float, str]]) -> list[str]:
    """Lines from ``(top, left, height, text)`` boxes: rows by their top (half a line of slack), then left to right."""
    rows: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(boxes):
        if rows and box[0] - rows[-1][0][0] < 0.5 * max(rows[-1][0][2], 1.0):
            rows[-1].append(box)
        else:
            rows.append([box])
    return [" ".join(text for _, _, _, text in sorted(row, key=lambda b: b[1])) for row in rows]


@dataclass
class Candidate:
    """One engine configuration in the table."""

    name: str
    package: str  # the PyPI distribution (for size and wheel checks); "" when not a wheel
    note: str = ""
    engine: Any = field(default=None, repr=False)

    def available(self) -> str | None:
        """``None`` when the engine can run here, else why not."""
        return None

    def load(self) -> None:
        raise NotImplementedError

    def lines(self, png: bytes) -> list[str]:
        raise NotImplementedError


class RapidOcrLite(Candidate):
    def __init__(self) -> None:
        super().__init__("rapidocrlite lite", "rapidocrlite", "PP-OCRv6 runtime, bundled Indra lite weights")

    def available(self) -> str | None:
        try:
            import rapidocr  # noqa: F401
        except ImportError:
            return "pip install rapidocrlite"
        return None

    def load(self) -> None:
        from rapidocr import RapidOCR

        # Both Det and Rec must say "lite", or RapidOCR resolves PP-OCRv6 ONNX models and downloads them.
        self.engine = RapidOCR(
            params={
                "Det.model_type": "lite",
                "Rec.model_type": "lite",
                "Global.use_cls": False,
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            }
        )

    def lines(self, png: bytes) -> list[str]:
        result = self.engine(png)
        return list(result.txts or ())


class FasterPaddle(Candidate):
    def __init__(self, size: str) -> None:
        super().__init__(f"faster-paddle {size}", "faster-paddle", "PP-OCRv6 + ONNX Runtime linked in (Rust)")
        self.size = size

    def available(self) -> str | None:
        try:
            import faster_paddle  # noqa: F401
        except ImportError:
            return "pip install faster-paddle"
        return None

    def load(self) -> None:
        from faster_paddle import OcrEngine

        self.engine = OcrEngine(model_size=self.size, threads=1)

    def lines(self, png: bytes) -> list[str]:
        result = self.engine.ocr(png)
        # Its own result["text"] groups rows into columns on left-aligned pages of uneven
        # line lengths (Chinese rows first, then English ones), so order the boxes ourselves.
        boxes = []
        for bound in result["bounds"].values():
            (left, top), (_, bottom) = bound["topLeftCoord"], bound["bottomRightCoord"]
            boxes.append((float(top), float(left), float(bottom - top), bound["text"]))
        return reading_order(boxes)


class Tesseract(Candidate):
    def __init__(self) -> None:
        super().__init__("tesseract chi_sim+eng", "", "Debian tesseract-ocr 5 + tesseract-ocr-chi-sim (not a wheel)")

    def available(self) -> str | None:
        if not shutil.which("tesseract"):
            return "apt-get install tesseract-ocr tesseract-ocr-chi-sim"
        langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False).stdout
        return None if "chi_sim" in langs.split() else "apt-get install tesseract-ocr-chi-sim"

    def load(self) -> None:
        self.engine = "tesseract"

    def lines(self, png: bytes) -> list[str]:
        with tempfile.TemporaryDirectory() as folder:
            image = Path(folder) / "page.png"
            image.write_bytes(png)
            env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
            out = subprocess.run(
                ["tesseract", str(image), "stdout", "-l", "chi_sim+eng", "--psm", "3"],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
        return [line for line in out.splitlines() if line.strip()]


class IngestSeam(Candidate):
    """What ships: ``ocr_app.engines.default_engine()`` (decode, hand-over, reading order, filters included)."""

    def __init__(self) -> None:
        super().__init__("OCR function seam (default)", "", "functions/ocr/ocr_app/engines/")

    def available(self) -> str | None:
        from benchmarks._common import add_code_paths

        add_code_paths()
        try:
            import ocr_app.engines  # noqa: F401
        except ImportError as exc:
            return str(exc)
        return None

    def load(self) -> None:
        from ocr_app.engines import default_engine

        self.engine = default_engine()
        self.name = f"OCR function ({self.engine.name}-{getattr(self.engine, 'model_size', '')})".replace("-)", ")")

    def lines(self, png: bytes) -> list[str]:
        return [line.text for line in self.engine.recognise(png).lines]


def candidates() -> list[Candidate]:
    return [RapidOcrLite(), FasterPaddle("tiny"), FasterPaddle("small"), Tesseract(), IngestSeam()]
