"""Whether a PDF page's extracted text is real text, or a scan (or garbage) that needs OCR."""

from __future__ import annotations

import re
import unicodedata

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
