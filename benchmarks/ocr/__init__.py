"""OCR engine benchmark: generated bilingual pages; accuracy, speed and size per engine."""
