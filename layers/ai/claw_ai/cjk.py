"""Chinese, Japanese and Korean characters, defined once for every module that tells scripts apart
(segmentation, token estimates, answer language, streaming pieces, keyword filtering)."""

from __future__ import annotations

import re

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
"""Chinese characters (CJK unified ideographs, extension A, compatibility, extensions B-F), as a class body."""
CJK = f"\u3040-\u30ff{HAN}\uac00-\ud7af"
"""Han plus Japanese kana and Korean Hangul syllables, as a class body."""

HAS_HAN = re.compile(f"[{HAN}]")
HAS_CJK = re.compile(f"[{CJK}]")
CJK_RUN = re.compile(f"[{CJK}]+")


def has_cjk(text: str) -> bool:
    """True when ``text`` holds a CJK character (used to answer in the question's language)."""
    return HAS_CJK.search(text) is not None


def is_single_han(token: str) -> bool:
    """True for a one-character Chinese token (a stop word more often than not in keyword search)."""
    return len(token) == 1 and HAS_HAN.match(token) is not None
