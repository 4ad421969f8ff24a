"""The vector store: halfvec rows, no global HNSW, a partial HNSW index per large knowledge base
that the search uses, built at the threshold and dropped with the knowledge base."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest

from tests.support.users import insert_user


def _kb_with_chunks(db: Any, n: int, dim: int, rng: np.random.Generator) -> tuple[str, str, np.ndarray]:
    from pgvector import HalfVector

    owner = insert_user(db, prefix="vecidx").id
    kb = db.execute(
        "INSERT INTO knowledge_bases (owner_id, name) VALUES (%s, 'vector index') RETURNING id::text AS id", (owner,)
    ).fetchone()["id"]
    doc = db.execute(
        """INSERT INTO documents (kb_id, owner_id, title, filename, s3_bucket, s3_key, status)
           VALUES (%s, %s, 'doc', 'doc.md', 'test', %s, 'ready') RETURNING id""",
        (kb, owner, f"kb/{kb}/{uuid.uuid4().hex}.md"),
    ).fetchone()["id"]
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with (
        db.cursor() as cur,
        cur.copy(
            "COPY chunks (document_id, chunk_index, kb_id, owner_id, text, search_text, embedding) FROM STDIN"
        ) as copy,
    ):
        for i, v in enumerate(vectors):
            copy.write_row((doc, i, kb, owner, f"chunk {i}", f"chunk {i}", HalfVector(v).to_text()))
    db.execute("ANALYZE chunks")
    return owner, kb, vectors


def test_embeddings_are_halfvec_without_a_global_index(db: Any) -> None:
    column = db.execute(
        """SELECT format_type(atttypid, atttypmod) AS type, attstorage AS storage FROM pg_attribute
            WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"""
    ).fetchone()
    assert column["type"].startswith("halfvec(")
    assert column["storage"] == "p"  # plain: inline, never TOASTed
    assert db.execute("SELECT to_regclass('chunks_embedding_hnsw_idx') AS idx").fetchone()["idx"] is None


def test_the_keyword_vector_stays_in_the_row(db: Any) -> None:
    # Keyword search reads tsv of every matching chunk: out of line it cost a TOAST fetch each.
    storage = db.execute(
        "SELECT attstorage AS storage FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'tsv'"
    ).fetchone()["storage"]
    assert storage == "m"  # main: compressed in the row if need be, out of line only as a last resort
    dim = int(
        db.execute(
            "SELECT atttypmod AS dim FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"
        ).fetchone()["dim"]
    )
    _, kb, _ = _kb_with_chunks(db, 1, dim, np.random.default_rng(5))
    # 45 distinct words: embedding, text, segmented text and tsvector together pass the 2 kB
    # TOAST threshold; the texts go out of line, the tsvector (the largest value) stays.
    words = " ".join(f"w{uuid.uuid4().hex[:8]}" for _ in range(45))
    from pgvector import HalfVector

    vector = np.ones(dim, dtype=np.float32) / np.sqrt(dim)
    db.execute(
        """INSERT INTO chunks (document_id, chunk_index, kb_id, owner_id, text, search_text, embedding)
           SELECT document_id, 1, kb_id, owner_id, %s, %s, %s::halfvec FROM chunks WHERE kb_id = %s""",
        (words, words, HalfVector(vector).to_text(), kb),
    )
    row = db.execute(
        """SELECT pg_column_toast_chunk_id(tsv) AS tsv_toast, pg_column_size(tsv) AS tsv_size
             FROM chunks WHERE kb_id = %s AND chunk_index = 1""",
        (kb,),
    ).fetchone()
    assert row["tsv_size"] > 500 and row["tsv_toast"] is None


def test_a_large_knowledge_base_gets_its_own_index_the_search_uses_and_loses_it_with_the_kb(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from psycopg.rows import dict_row

    from claw_ai.retrieval import vector_index
    from claw_ai.retrieval.search import search_chunks

    dim = int(
        db.execute(
            "SELECT atttypmod AS dim FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"
        ).fetchone()["dim"]
    )
    rng = np.random.default_rng(3)
    monkeypatch.setattr(vector_index, "HNSW_MIN_CHUNKS", 300)
    _, small_kb, _ = _kb_with_chunks(db, 50, dim, rng)
    owner_big, big_kb, vectors = _kb_with_chunks(db, 400, dim, rng)

    assert vector_index.ensure_index(small_kb) is False
    assert vector_index.index_state(db, small_kb) == "none"
    assert vector_index.ensure_index(big_kb) is True
    assert vector_index.index_state(db, big_kb) == "valid"
    definition = db.execute(
        "SELECT indexdef FROM pg_indexes WHERE indexname = %s", (vector_index.index_name(big_kb),)
    ).fetchone()["indexdef"]
    assert "halfvec_cosine_ops" in definition and big_kb in definition

    class Fixed:
        name = "fixed"

        def embed_query(self, text: str) -> Any:
            return vectors[7]

    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(db.info.dsn, row_factory=dict_row) as conn:
        register_vector(conn)
        # The search statement, as search_chunks runs it, can use the partial index (its predicate
        # is proven from the kb id). At 400 rows an exact sort is cheaper, so the sort is ruled out.
        with conn.transaction():
            conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            conn.execute("SET LOCAL enable_sort = off")
            plan = conn.execute(
                """EXPLAIN SELECT c.document_id FROM chunks c
                    WHERE c.owner_id = %(owner)s AND c.kb_id = ANY(%(kbs)s::uuid[])
                    ORDER BY c.embedding <=> %(v)s::halfvec LIMIT 10""",
                {"owner": owner_big, "kbs": [big_kb], "v": vectors[7]},
            ).fetchall()
        assert vector_index.index_name(big_kb) in " ".join(str(next(iter(r.values()))) for r in plan)
        hits = search_chunks(
            conn, embedder=Fixed(), owner_id=owner_big, kb_ids=[big_kb], question="q", top_k=5, mode="vector"
        )
        assert hits[0].chunk_index == 7

    vector_index.drop_index(big_kb)
    assert vector_index.index_state(db, big_kb) == "none"
    vector_index.ensure_index(big_kb)
    db.execute("DELETE FROM knowledge_bases WHERE id = %s", (big_kb,))
    assert vector_index.index_name(big_kb) in vector_index.sweep_orphans()
    assert vector_index.index_state(db, big_kb) == "none"


def test_dropping_an_index_waits_for_open_writes_without_blocking_anyone_else(db: Any) -> None:
    import threading

    import psycopg

    from claw_ai.retrieval import vector_index

    dim = int(
        db.execute(
            "SELECT atttypmod AS dim FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"
        ).fetchone()["dim"]
    )
    rng = np.random.default_rng(11)
    _, gone_kb, _ = _kb_with_chunks(db, 20, dim, rng)
    _, busy_kb, _ = _kb_with_chunks(db, 5, dim, rng)
    vector_index.build_index(db, gone_kb, concurrently=False)
    db.execute("DELETE FROM knowledge_bases WHERE id = %s", (gone_kb,))
    # Given an ingest transaction of another knowledge base, still open on chunks
    writer = psycopg.connect(db.info.dsn)
    writer.execute("DELETE FROM chunks WHERE kb_id = %s AND chunk_index = 4", (busy_kb,))
    # When the deleted knowledge base's index is dropped meanwhile
    errors: list[BaseException] = []

    def drop() -> None:
        try:
            vector_index.drop_index(gone_kb)
        except BaseException as exc:
            errors.append(exc)

    dropping = threading.Thread(target=drop)
    dropping.start()
    try:
        from tests.conftest import wait_for

        wait_for(
            lambda: db.execute(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DROP INDEX%%' AND wait_event_type = 'Lock'"
            ).fetchone(),
            timeout=10,
        )
        # Then the drop waits for the writer, and a search of anyone else is answered meanwhile
        # (a plain DROP INDEX would hold every reader of chunks behind its ACCESS EXCLUSIVE lock)
        with psycopg.connect(db.info.dsn, autocommit=True) as reader:
            reader.execute("SET lock_timeout = '2s'")
            count = reader.execute("SELECT count(*) FROM chunks WHERE kb_id = %s", (busy_kb,)).fetchone()
        assert count == (5,)
        assert vector_index.index_state(db, gone_kb) != "none" and dropping.is_alive()
    finally:
        writer.commit()
        writer.close()
        dropping.join(timeout=15)
    # And once the writer committed, the index is gone
    assert not errors and vector_index.index_state(db, gone_kb) == "none"
