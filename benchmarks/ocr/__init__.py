"""OCR engine benchmark: generated bilingual pages; accuracy, speed and size per engine."""


def run(quick: bool, platform: object = None) -> object:
    """The OCR area of ``python -m benchmarks`` (see ``benchmarks.ocr.section``)."""
    from benchmarks.ocr.section import run as run_section

    return run_section(quick, platform)
