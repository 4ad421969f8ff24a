"""Chunks encoded ahead as binary COPY rows (ingest_app.copy_rows) store what psycopg's own
row-by-row COPY of the same values stores, column for column, in the real PostgreSQL."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import numpy as np

from ingest_app.chunker import Chunk
from ingest_app.copy_rows import COLUMNS, COPY_CHUNKS, copy_data, encode_rows
from tests.support.users import insert_user

_READ = (
    "SELECT chunk_index, text, search_text, heading_path, page, row, sheet, metadata, token_count, "
    "embedding::text AS embedding, tsv::text AS tsv, kb_id::text AS kb_id, owner_id::text AS owner_id "
    "FROM chunks WHERE document_id = %s ORDER BY chunk_index"
)


def _document(db: Any) -> dict[str, Any]:
    owner = insert_user(db, prefix="copyrows").id
    kb = db.execute(
        "INSERT INTO knowledge_bases (owner_id, name) VALUES (%s, 'copy rows') RETURNING id::text AS id", (owner,)
    ).fetchone()["id"]
    return db.execute(
        """INSERT INTO documents (kb_id, owner_id, title, filename, s3_bucket, s3_key)
           VALUES (%s, %s, 'doc', 'doc.md', 'test', %s) RETURNING id, kb_id, owner_id""",
        (kb, owner, f"kb/{kb}/{uuid.uuid4().hex}.md"),
    ).fetchone()


def test_encoded_rows_store_what_a_row_by_row_copy_stores(db: Any) -> None:
    from pgvector import HalfVector, Vector
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    register_vector(db)

    dim = int(
        db.execute(
            "SELECT atttypmod AS dim FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"
        ).fetchone()["dim"]
    )
    rng = np.random.default_rng(3)
    vectors: list[Any] = list(rng.standard_normal((4, dim)).astype(np.float32))
    vectors[3] = Vector(vectors[3].tolist())  # the Zhipu path's type
    chunks = [
        Chunk(0, "云帆 > 退货\n七天无理由退货。", 12, ["云帆", "退货"], page=1, metadata={"kind": "text", "n": 3}),
        Chunk(1, "no heading, NUL\x00 stripped", 5, [], metadata={"when": datetime.date(2026, 1, 2), "x": None}),
        Chunk(2, "Sheet: A; B", 4, ["价目表"], row=7, sheet="Sheet 1", metadata={"kind": "table", "row_end": 9}),
        Chunk(3, "", 0, ["a\x00b", ""], page=2, row=None, metadata={}),
    ]
    search_texts = ["云帆 退货 七天 无理由 退货", "no heading nul stripped", "sheet a b", ""]
    ours, theirs = _document(db), _document(db)

    with db.transaction(), db.cursor() as cur, cur.copy(COPY_CHUNKS) as copy:
        copy.write(copy_data(ours["id"], ours["kb_id"], ours["owner_id"], encode_rows(chunks, search_texts, vectors)))
    types = ["uuid"] * 3 + ["int4", "text", "text", "text[]", "int4", "int4", "text", "jsonb", "int4", "halfvec"]
    with db.transaction(), db.cursor() as cur, cur.copy(COPY_CHUNKS) as copy:
        copy.set_types(types)
        for chunk, search_text, vector in zip(chunks, search_texts, vectors, strict=True):
            half = HalfVector(vector.to_list() if isinstance(vector, Vector) else vector)
            values = dict(
                document_id=theirs["id"],
                kb_id=theirs["kb_id"],
                owner_id=theirs["owner_id"],
                chunk_index=chunk.index,
                text=chunk.text.replace("\x00", ""),
                search_text=search_text,
                heading_path=[h.replace("\x00", "") for h in chunk.heading_path],
                page=chunk.page,
                row=chunk.row,
                sheet=chunk.sheet,
                metadata=Jsonb(chunk.metadata, dumps=lambda v: json.dumps(v, ensure_ascii=False, default=str)),
                token_count=chunk.token_count,
                embedding=half,
            )
            copy.write_row([values[c] for c in COLUMNS])

    stored = db.execute(_READ, (ours["id"],)).fetchall()
    expected = db.execute(_READ, (theirs["id"],)).fetchall()
    assert len(stored) == len(chunks)
    for got, want in zip(stored, expected, strict=True):
        assert {k: v for k, v in got.items() if k not in ("kb_id", "owner_id")} == {
            k: v for k, v in want.items() if k not in ("kb_id", "owner_id")
        }
        assert (got["kb_id"], got["owner_id"]) == (str(ours["kb_id"]), str(ours["owner_id"]))
    assert stored[1]["metadata"] == {"when": "2026-01-02", "x": None}
    assert stored[3]["heading_path"] == ["ab", ""] and stored[0]["tsv"]
