"""Chunks as rows of a binary COPY into ``chunks``, encoded where the chunks are made.

A prepared document's rows are encoded on the work-ahead thread (``ingest_app.ahead``), so the
transaction that writes them only puts the document's three ids in front of each row and sends
the bytes. The formats are PostgreSQL's binary receive formats of each column's type (uuid, int4,
text, text[], jsonb) and pgvector's of ``halfvec`` (its own encoder), as psycopg's ``write_row``
would send them.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Sequence
from typing import Any

from pgvector import HalfVector, Vector

from ingest_app.chunker import Chunk

COLUMNS = (
    "document_id",
    "kb_id",
    "owner_id",
    "chunk_index",
    "text",
    "search_text",
    "heading_path",
    "page",
    "row",
    "sheet",
    "metadata",
    "token_count",
    "embedding",
)
# Stored as halfvec (2 bytes a dimension, inline): layers/common/claw_common/data/migrations/0010_vector_store.sql.
COPY_CHUNKS = f"COPY chunks ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no flags, no header extension
_TRAILER = struct.pack(">h", -1)
_FIELD_COUNT = struct.pack(">h", len(COLUMNS))
_NULL = struct.pack(">i", -1)
_TEXT_OID = 25
_JSONB_VERSION = b"\x01"


def _field(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def _text(value: str) -> bytes:
    # PostgreSQL text cannot hold NUL; parsers strip it, this is the last guard.
    return _field(value.replace("\x00", "").encode())


def _int4(value: int | None) -> bytes:
    return _NULL if value is None else _field(struct.pack(">i", value))


def _text_array(values: Sequence[str]) -> bytes:
    if not values:
        return _field(struct.pack(">iii", 0, 0, _TEXT_OID))  # no dimensions: '{}'
    header = struct.pack(">iiiii", 1, 0, _TEXT_OID, len(values), 1)  # 1 dimension, no NULLs, lower bound 1
    return _field(header + b"".join(_text(v) for v in values))


def _jsonb(value: Any) -> bytes:
    # Chinese kept readable, unknown types as strings.
    return _field(_JSONB_VERSION + json.dumps(value, ensure_ascii=False, default=str).encode())


def _halfvec(vector: Any) -> bytes:
    # A numpy array, or a pgvector Vector where numpy is not installed (Zhipu path).
    return _field(HalfVector(vector.to_list() if isinstance(vector, Vector) else vector).to_binary())


def encode_rows(chunks: Sequence[Chunk], search_texts: Sequence[str], vectors: Sequence[Any]) -> list[bytes]:
    """Each chunk's COPY row after its three ids (document, knowledge base, owner): see ``copy_data``."""
    return [
        b"".join(
            (
                _int4(chunk.index),
                _text(chunk.text),
                _text(search_text),
                _text_array(chunk.heading_path),
                _int4(chunk.page),
                _int4(chunk.row),
                _NULL if chunk.sheet is None else _field(chunk.sheet.encode()),
                _jsonb(dict(chunk.metadata)),
                _int4(chunk.token_count),
                _halfvec(vector),
            )
        )
        for chunk, search_text, vector in zip(chunks, search_texts, vectors, strict=True)
    ]


def copy_data(document_id: Any, kb_id: Any, owner_id: Any, rows: Sequence[bytes]) -> bytes:
    """The whole binary COPY stream of ``COPY_CHUNKS``: the rows of ``encode_rows`` with the document's ids."""
    ids = b"".join(_field(uuid.UUID(str(value)).bytes) for value in (document_id, kb_id, owner_id))
    lead = _FIELD_COUNT + ids
    return b"".join([_SIGNATURE, *(lead + row for row in rows), _TRAILER])
