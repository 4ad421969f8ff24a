"""The OCR area of ``make bench``: what ships (the OCR function's engine) on generated pages.

The full engine comparison (every candidate, aarch64 wheel sizes) is ``python -m benchmarks.ocr``
(``benchmarks/results/ocr.md``, minutes); this area measures only the shipped engine, on 2 pages
per set in the quick suite and 6 in the full one, and reports the OCR function's size when
``sam build`` output is present.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from benchmarks._common import Section, Target

ROOT = Path(__file__).resolve().parents[2]


def run(quick: bool, platform: Any = None) -> Section:
    from benchmarks.ocr.__main__ import PDF_DPI, _pct, measure, render_pdf
    from benchmarks.ocr.engines import IngestSeam
    from benchmarks.ocr.pages import image_only_pdf, make_pages

    pages = 2 if quick else 6
    section = Section(
        "ocr",
        "OCR of scanned pages and images (the OCR function's engine)",
        method=(
            f"{pages} generated bilingual A4 pages per set (Noto CJK, 150 dpi): *clean*, *photo* (rotated, "
            f"uneven light, blur, noise, JPEG 72), *pdf* (an image-only PDF rendered back by pypdfium2 at "
            f"{PDF_DPI} dpi, render included). One thread; CPU seconds per page. Accuracy is 1 − CER per "
            "language of the ground-truth rows; tokens are codes, prices and numbers found verbatim. "
            "All engines compared: `python -m benchmarks.ocr` → benchmarks/results/ocr.md."
        ),
    )
    sets = {"clean": make_pages(pages, variant="clean"), "photo": make_pages(pages, variant="photo")}
    pdf_pages = render_pdf(image_only_pdf([page.image for page in sets["clean"]]), PDF_DPI)
    seam = IngestSeam()
    why_not = seam.available()
    if why_not:
        section.error = f"OCR engine unavailable: {why_not}"
        return section
    seam.load()
    seam.lines(sets["clean"][0].png_bytes())  # warm-up: model load is a cold-start cost, not per page
    runs = measure(seam, sets, pdf_pages)
    rows = [
        [
            run.set,
            _pct(run.score.accuracy("zh")),
            _pct(run.score.accuracy("en")),
            f"{run.tokens_found}/{run.tokens}",
            f"{statistics.mean(run.cpu_seconds):.2f}",
            f"{statistics.mean(run.seconds):.2f}",
        ]
        for run in runs
    ]
    section.table(
        f"{seam.name}: accuracy and seconds per page",
        ["set", "zh accuracy", "en accuracy", "tokens", "CPU s/page", "wall s/page"],
        rows,
    )
    worst = min(min(run.score.accuracy("zh"), run.score.accuracy("en")) for run in runs)
    per_page = max(statistics.mean(run.cpu_seconds) for run in runs)
    section.targets.append(
        Target("OCR character accuracy (zh, en; clean, photo, pdf)", "≥ 99 %", _pct(worst), worst >= 0.99)
    )
    section.targets.append(
        Target(
            "OCR seconds per page (one thread)",
            "≤ 1.5 s",
            f"{per_page:.2f} CPU s",
            per_page <= 1.5,
            "a 300 s invocation reads ~200 pages; ranges of 10 pages per message",
        )
    )
    built = ROOT / ".aws-sam" / "build"
    if (built / "template.yaml").is_file():
        from infra.lambda_sizes import sizes

        for name, code, layers in sizes(built):
            if name == "OcrFunction":
                total = code + sum(layers.values())
                section.targets.append(
                    Target("OcrFunction unzipped, with its layer", "≤ 200 MB", f"{total:.0f} MB", total <= 200)
                )
    else:
        section.notes.append(
            "OcrFunction size: run `make build` first to measure it here (arm64 build, core layer + "
            "faster-paddle + Pillow + pypdfium2 + zhipuai; see docs/knowledge.md)."
        )
    return section
