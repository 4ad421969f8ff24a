"""A vector store already in use: other tenants' chunks, loaded before an ingest measurement.

A platform ingests into a table that already holds everybody else's knowledge bases. What an
insert costs depends on that: the peer's global HNSW graph grows with the whole table (each new
row searches it for its neighbours and rewires them), while ours keeps a graph per large
knowledge base and none for the small ones (docs/vector-store.md). Both sides get the same
synthetic chunks (the retrieval benchmark's generator: some large knowledge bases, most
small), loaded by COPY; then each side's indexes are built as they stand in production (ours:
the per-knowledge-base partial HNSW indexes; the peer: its global HNSW index).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import numpy as np


def populate(database_url: str, dim: int, n: int, *, seed: int = 11) -> list[list[Any]]:
    """Load ``n`` chunks of 100 other knowledge bases into ours and into the peer's table.

    Returns the load timings (rows for a table). The peer's HNSW index is (re)built at the end,
    over every row of its table.
    """
    import psycopg

    from benchmarks import retrieval
    from claw_ai.retrieval.vector_index import HNSW_MIN_CHUNKS, build_index

    rng = np.random.default_rng(seed)
    text_rng = random.Random(seed)
    kbs, retrieval.KBS = retrieval.KBS, 100
    try:
        data = retrieval._generate(n, dim, rng)
    finally:
        retrieval.KBS = kbs
    texts = [retrieval._text(text_rng, int(c)) for c in data["cluster_of"]]
    timings: list[list[Any]] = []
    from pgvector.psycopg import register_vector

    with psycopg.connect(database_url, autocommit=True) as conn:
        register_vector(conn)
        started = time.perf_counter()
        loaded = retrieval._load_ours(conn, data, texts)
        timings.append(["ours: COPY of the other tenants' chunks", time.perf_counter() - started])
        started = time.perf_counter()
        counts = np.bincount(data["kb_of"], minlength=len(loaded["kbs"]))
        large = [kb for k, (_, kb) in enumerate(loaded["kbs"]) if counts[k] >= HNSW_MIN_CHUNKS]
        for kb in large:
            build_index(conn, kb, concurrently=False)
        conn.execute("VACUUM (ANALYZE) chunks")
        timings.append([f"ours: per-KB HNSW builds ({len(large)} KBs) + VACUUM", time.perf_counter() - started])
        conn.execute("DROP INDEX IF EXISTS langchain_pg_embedding_hnsw_idx")  # built after the load, as is faster
        started = time.perf_counter()
        _load_peer(conn, data, texts)
        timings.append(["peer: COPY of the other tenants' chunks", time.perf_counter() - started])
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE INDEX langchain_pg_embedding_hnsw_idx ON langchain_pg_embedding "
            "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        conn.execute("VACUUM (ANALYZE) langchain_pg_embedding")
        timings.append(["peer: global HNSW build + VACUUM", time.perf_counter() - started])
    return timings


def _load_peer(conn: Any, data: dict[str, Any], texts: list[str]) -> None:
    """The same chunks as LangChain writes them: a collection per knowledge base, one row per chunk."""
    from psycopg.types.json import Jsonb

    kbs = int(data["kb_of"].max()) + 1
    prefix = f"bench-other-{uuid.uuid4().hex[:6]}"
    collections = []
    for k in range(kbs):
        row = conn.execute(
            "INSERT INTO langchain_pg_collection (uuid, name, cmetadata) VALUES (%s, %s, '{}') RETURNING uuid",
            (uuid.uuid4(), f"{prefix}-{k}"),
        ).fetchone()
        collections.append(row[0])
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY langchain_pg_embedding (id, collection_id, embedding, document, cmetadata) FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.set_types(["varchar", "uuid", "vector", "varchar", "jsonb"])
        for i, vector in enumerate(data["vectors"]):
            copy.write_row((f"{prefix}:{i}", collections[int(data["kb_of"][i])], vector, texts[i], Jsonb({"i": i})))
