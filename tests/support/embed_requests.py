"""Events that are not embed requests (claw_ai.remote_embedder): the contract's unit tests
refuse them at validation, the embed function's tests at the function."""

from __future__ import annotations

from typing import Any

from claw_ai.remote_embedder import MAX_CHARS, MAX_TEXTS

NOT_REQUESTS: list[Any] = [
    {},
    {"texts": []},
    {"texts": "one question"},
    {"texts": [1, 2]},
    {"texts": ["a"] * (MAX_TEXTS + 1)},
    {"texts": ["x" * (MAX_CHARS + 1)]},
    {"texts": ["x" * (MAX_CHARS // 2), "y" * (MAX_CHARS // 2 + 1)]},
    {"texts": ["a"], "model": "another"},
    ["a", "b"],
]
"""Missing, empty, not a list of strings, too many texts, too many characters (in one text or
together), another model, not an object."""
