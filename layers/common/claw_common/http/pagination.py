"""Opaque cursors for keyset pagination, the same in every API.

A cursor is URL-safe base64 of a small JSON value (the position after the page's last row);
clients pass back ``next_cursor`` as it is. Anything else is a 422 on ``query.cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from claw_common.errors import ValidationFailed


def invalid_cursor() -> ValidationFailed:
    """The error for a cursor that is not one of ours (also for a well-formed one with a bad position)."""
    return ValidationFailed(
        "The cursor is not valid; use the next_cursor of a previous page, or none for the first page.",
        errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
    )


def encode_cursor(position: Any) -> str:
    """The cursor of a position (any JSON value)."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The position inside a cursor; ``invalid_cursor()`` when it is not one."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise invalid_cursor() from exc
