"""Keyset pagination, the same in every API: opaque cursors and the ``limit``/``cursor`` query parameters.

A cursor is URL-safe base64 of a small JSON value (the position after the page's last row);
clients pass back ``next_cursor`` as it is. Every list decodes its cursor into exactly one
typed shape (``decode_cursor(cursor, shape)``); anything else is a 422 on ``query.cursor``,
never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from claw_common.errors import ValidationFailed

Limit = Annotated[int, Query(ge=1, le=100, description="Page size (at most 100).")]
"""The ``limit`` query parameter of every list (give the default at the route: ``limit: Limit = 20``)."""
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; none for the first page."),
]
"""The ``cursor`` query parameter of every list."""

SeqPosition = Annotated[int, Field(strict=True, ge=0)]
"""A position that is a non-negative integer (a sequence number, a row id, an index)."""
KeyPosition = Annotated[str, Field(strict=True, min_length=1, max_length=512)]
"""A position that is a text key."""


class TimeIdPosition(BaseModel):
    """A position in a list ordered by time, ties broken by id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    id: UUID


class ChunkPosition(BaseModel):
    """A position in a document's chunks (by chunk index)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    i: SeqPosition


def invalid_cursor() -> ValidationFailed:
    """The error for a cursor that is not one of ours (also for a well-formed one with a bad position)."""
    return ValidationFailed(
        "The cursor is not valid; use the next_cursor of a previous page, or none for the first page.",
        errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
    )


def encode_cursor(position: Any) -> str:
    """The cursor of a position (any JSON value; a pydantic model is dumped as JSON)."""
    if isinstance(position, BaseModel):
        position = position.model_dump(mode="json")
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


@lru_cache(maxsize=64)
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def decode_cursor(cursor: str, shape: Any) -> Any:
    """The position inside a cursor, validated as ``shape``; ``invalid_cursor()`` when it is not one."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return _adapter(shape).validate_python(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, ValidationError, RecursionError) as exc:
        raise invalid_cursor() from exc


def optional_position(cursor: str | None, shape: Any) -> Any:
    """``decode_cursor`` for an optional cursor (None: the first page)."""
    return decode_cursor(cursor, shape) if cursor else None


__all__ = [
    "ChunkPosition",
    "Cursor",
    "KeyPosition",
    "Limit",
    "SeqPosition",
    "TimeIdPosition",
    "decode_cursor",
    "encode_cursor",
    "invalid_cursor",
    "optional_position",
]
