"""Knowledge base search over pgvector: vector (HNSW) and hybrid (vector + keyword, RRF).

Only the caller's knowledge bases are searched: every query filters chunks by
``owner_id`` *and* ``kb_id``, so a knowledge base id of someone else finds nothing.

Vector search under a filter. An HNSW index returns the ``ef_search`` nearest neighbours of
the whole table, and a ``WHERE kb_id = …`` applied afterwards can leave fewer than ``top_k``
rows when the knowledge base is a small part of the table. pgvector 0.8's iterative scan
keeps walking the graph until enough rows pass the filter (``hnsw.iterative_scan =
relaxed_order``, bounded by ``hnsw.max_scan_tuples``); relaxed order may return rows
slightly out of order, so the nearest candidates are materialised and re-ordered by exact
distance. For a small knowledge base the planner may prefer the ``kb_id`` index and an exact
sort, which is the perfect-recall plan anyway.

Keyword search runs over the ``tsv`` column (``to_tsvector('simple', segment_for_search(text))``)
with ``to_tsquery('simple', tsquery_text(question))`` — Chinese is segmented the same way on
both sides — ranked with ``ts_rank_cd``. Hybrid fuses both rankings with Reciprocal Rank
Fusion (k = 60): ``score = Σ 1 / (60 + rank)``; a passage found by both lists rises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from claw_ai.textseg import tsquery_text

__all__ = ["RRF_K", "SearchHit", "SearchMode", "search_chunks"]

SearchMode = Literal["vector", "hybrid"]
RRF_K = 60
EF_SEARCH = 100
"""HNSW candidate list per query (pgvector default 40): more recall for a few ms."""
MAX_SCAN_TUPLES = 20000
"""Upper bound of an iterative scan (pgvector's default): a filter that matches almost nothing stops here."""
CANDIDATES_MIN = 20
"""Each list of a hybrid search contributes at least this many candidates to the fusion."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One chunk found by a search, best first.

    ``score`` is the cosine similarity (vector mode) or the RRF score (hybrid mode);
    ``vector_rank`` / ``keyword_rank`` are the 1-based ranks in each list (None = not in it).
    """

    document_id: str
    kb_id: str
    title: str
    chunk_index: int
    score: float
    text: str
    heading_path: list[str] = field(default_factory=list)
    page: int | None = None
    row: int | None = None
    similarity: float | None = None
    vector_rank: int | None = None
    keyword_rank: int | None = None


def search_chunks(
    conn: Any,
    *,
    embedder: Any,
    owner_id: str,
    kb_ids: Sequence[str],
    question: str,
    top_k: int = 5,
    mode: SearchMode = "hybrid",
) -> list[SearchHit]:
    """The ``top_k`` chunks of the owner's ``kb_ids`` most relevant to ``question``.

    ``conn`` is a psycopg connection with pgvector registered and dict rows. Knowledge bases
    not owned by ``owner_id`` simply contribute nothing.
    """
    if mode not in ("vector", "hybrid"):
        raise ValueError("mode must be 'vector' or 'hybrid'")
    kb_list = [str(k) for k in kb_ids]
    if not kb_list or not question.strip() or top_k <= 0:
        return []
    query_vector = embedder.embed_query(question)
    pool = top_k if mode == "vector" else max(CANDIDATES_MIN, top_k * 4)

    with conn.transaction():
        vector_rows = _vector_candidates(conn, owner_id, kb_list, query_vector, pool)
        keyword_rows = _keyword_candidates(conn, owner_id, kb_list, question, pool) if mode == "hybrid" else []

        vector_rank = {(r["document_id"], r["chunk_index"]): i for i, r in enumerate(vector_rows, 1)}
        keyword_rank = {(r["document_id"], r["chunk_index"]): i for i, r in enumerate(keyword_rows, 1)}
        similarity = {(r["document_id"], r["chunk_index"]): 1.0 - float(r["distance"]) for r in vector_rows}

        if mode == "vector":
            ranked = [(key, similarity[key]) for key in vector_rank]
        else:
            fused: dict[tuple[str, int], float] = {}
            for ranks in (vector_rank, keyword_rank):
                for key, rank in ranks.items():
                    fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank)
            # Ties (same fused score) go to the closer vector, then to document order.
            ranked = sorted(fused.items(), key=lambda kv: (-kv[1], -similarity.get(kv[0], -1.0), kv[0][0], kv[0][1]))
        ranked = ranked[:top_k]
        details = _details(conn, owner_id, [key for key, _ in ranked])

    hits: list[SearchHit] = []
    for key, score in ranked:
        row = details.get(key)
        if row is None:  # deleted between the two queries of this transaction's snapshot: impossible, but cheap
            continue
        hits.append(
            SearchHit(
                document_id=key[0],
                kb_id=row["kb_id"],
                title=row["title"],
                chunk_index=key[1],
                score=round(float(score), 6),
                text=row["text"],
                heading_path=list(row["heading_path"] or []),
                page=row["page"],
                row=row["row"],
                similarity=round(similarity[key], 6) if key in similarity else None,
                vector_rank=vector_rank.get(key),
                keyword_rank=keyword_rank.get(key),
            )
        )
    return hits


def _vector_candidates(conn: Any, owner_id: str, kb_ids: list[str], vector: Any, limit: int) -> list[dict[str, Any]]:
    # SET LOCAL lasts until the end of the surrounding transaction only.
    conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, limit)}")
    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    conn.execute(f"SET LOCAL hnsw.max_scan_tuples = {MAX_SCAN_TUPLES}")
    # Large knowledge bases have a partial HNSW index (WHERE kb_id = ...): a custom plan sees the
    # kb id and can prove the predicate; small ones are searched exactly (claw_ai.retrieval.vector_index).
    conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    return conn.execute(
        """WITH nearest AS MATERIALIZED (
               SELECT c.document_id, c.chunk_index, c.embedding <=> %(v)s::halfvec AS distance
                 FROM chunks c
                WHERE c.owner_id = %(owner)s AND c.kb_id = ANY(%(kbs)s::uuid[])
                ORDER BY c.embedding <=> %(v)s::halfvec
                LIMIT %(n)s)
           SELECT document_id::text AS document_id, chunk_index, distance
             FROM nearest
            ORDER BY distance, document_id, chunk_index""",
        {"v": vector, "owner": owner_id, "kbs": kb_ids, "n": limit},
    ).fetchall()


def _keyword_candidates(conn: Any, owner_id: str, kb_ids: list[str], question: str, limit: int) -> list[dict[str, Any]]:
    terms = tsquery_text(question)  # letters and digits joined by |: safe as to_tsquery input
    if not terms:
        return []
    return conn.execute(
        """SELECT c.document_id::text AS document_id, c.chunk_index, ts_rank_cd(c.tsv, q) AS rank
             FROM chunks c, to_tsquery('simple', %(q)s) q
            WHERE c.owner_id = %(owner)s AND c.kb_id = ANY(%(kbs)s::uuid[]) AND c.tsv @@ q
            ORDER BY rank DESC, c.document_id, c.chunk_index
            LIMIT %(n)s""",
        {"q": terms, "owner": owner_id, "kbs": kb_ids, "n": limit},
    ).fetchall()


def _details(conn: Any, owner_id: str, keys: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    if not keys:
        return {}
    rows = conn.execute(
        """SELECT c.document_id::text AS document_id, c.chunk_index, c.kb_id::text AS kb_id, c.text,
                  c.heading_path, c.page, c.row, d.title
             FROM chunks c
             JOIN documents d ON d.id = c.document_id
             JOIN unnest(%(docs)s::uuid[], %(idx)s::int[]) AS k(document_id, chunk_index)
               ON k.document_id = c.document_id AND k.chunk_index = c.chunk_index
            WHERE c.owner_id = %(owner)s""",
        {"docs": [k[0] for k in keys], "idx": [k[1] for k in keys], "owner": owner_id},
    ).fetchall()
    return {(r["document_id"], r["chunk_index"]): r for r in rows}
