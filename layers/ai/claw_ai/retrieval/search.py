"""Knowledge base search over pgvector: vector (HNSW) and hybrid (cosine + keyword score fusion).

Only the caller's knowledge bases are searched: every query filters chunks by
``owner_id`` *and* ``kb_id``, so a knowledge base id of someone else finds nothing. Documents
not in force (superseded by another document, or outside their ``valid_from`` /
``valid_until``) are left out.

Vector search under a filter. An HNSW index returns the ``ef_search`` nearest neighbours of
the whole table, and a ``WHERE kb_id = …`` applied afterwards can leave fewer than ``top_k``
rows when the knowledge base is a small part of the table. pgvector 0.8's iterative scan
keeps walking the graph until enough rows pass the filter (``hnsw.iterative_scan =
relaxed_order``, bounded by ``hnsw.max_scan_tuples``); relaxed order may return rows
slightly out of order, so the nearest candidates are materialised and every one is then
scored by its exact distance.

Keyword candidates come from the ``tsv`` column (``to_tsvector('simple', segment_for_search(text))``)
matched by any of the question's keyword terms, ordered by length-normalised ``ts_rank_cd``.
Every candidate of either list is then scored the same way (:mod:`claw_ai.retrieval.relevance`):
``relevance = cosine + 0.2 × keyword score`` where the keyword score is the share of the
question's IDF weight the passage holds. Hybrid ranks by relevance (measured against RRF,
which buried cross-lingual hits that only the vector list finds); vector ranks by cosine.
When the best passage is below the embedding model's relevance threshold the search returns
nothing (the knowledge base does not cover the question), in both modes. Ties go
to the higher cosine, then the document title, id and chunk order, so identical knowledge
bases rank identically.

Two statements, one transaction (docs/vector-store.md): ``_scope`` checks which knowledge bases
are the owner's, lists their documents not in force and sets the search's ``SET LOCAL`` options;
``_candidates`` finds both candidate lists, scores every candidate and counts each keyword term's
document frequency, reading each matching chunk once. The storage (vector type,
per-knowledge-base indexes) is only seen there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from claw_ai.retrieval.keywords import KeywordScorer, keyword_terms
from claw_ai.retrieval.relevance import PASSAGE_MARGIN, covers, relevance, threshold_for

__all__ = ["SearchHit", "SearchMode", "search_chunks"]

SearchMode = Literal["vector", "hybrid"]
EF_SEARCH = 100
"""HNSW candidate list per query (pgvector default 40): more recall for a few ms."""
MAX_SCAN_TUPLES = 20000
"""Upper bound of an iterative scan (pgvector's default): a filter that matches almost nothing stops here."""
CANDIDATES_MIN = 20
"""Each list contributes at least this many candidates to the fusion."""
TS_RANK_NORMALISATION = 1
"""``ts_rank_cd`` divides by 1 + log(document length): long chunks don't win on repetition."""

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One chunk found by a search, best first.

    ``score`` is the cosine similarity (vector mode) or the fused relevance (hybrid mode);
    ``vector_rank`` / ``keyword_rank`` are the 1-based ranks in each list (None = not in it);
    ``keyword_score`` the share of the question's IDF weight in the chunk; ``relevance`` the
    fused score. The question was covered because ``top_relevance`` (its best passage) reached
    ``threshold`` (None = no threshold for this embedder); this passage reached the threshold
    minus ``relevance.PASSAGE_MARGIN``.
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
    keyword_score: float = 0.0
    matched_terms: list[str] = field(default_factory=list)
    relevance: float = 0.0
    threshold: float | None = None
    top_relevance: float = 0.0


def search_chunks(
    conn: Any,
    *,
    embedder: Any,
    owner_id: str,
    kb_ids: Sequence[str],
    question: str,
    top_k: int = 5,
    mode: SearchMode = "hybrid",
    apply_threshold: bool = True,
) -> list[SearchHit]:
    """The ``top_k`` chunks of the owner's ``kb_ids`` most relevant to ``question``.

    ``conn`` is a psycopg connection with pgvector registered and dict rows. Knowledge bases
    not owned by ``owner_id`` simply contribute nothing. With ``apply_threshold`` (the
    default) passages below the embedder's relevance threshold are left out, so the result
    may be empty.
    """
    if mode not in ("vector", "hybrid"):
        raise ValueError("mode must be 'vector' or 'hybrid'")
    kb_list = [str(k) for k in kb_ids]
    if not kb_list or not question.strip() or top_k <= 0:
        return []
    query_vector = embedder.embed_query(question)
    pool = max(CANDIDATES_MIN, top_k * 4)
    terms = keyword_terms(question)
    threshold = threshold_for(str(getattr(embedder, "name", ""))) if apply_threshold else None

    with conn.transaction():
        kbs, excluded = _scope(conn, owner_id, kb_list, pool)
        rows: list[dict[str, Any]] = []
        statistics: tuple[dict[str, int], int] | None = None
        if kbs:
            rows, statistics = _candidates(conn, owner_id, kbs, query_vector, pool, excluded, terms, mode)
    scorer = KeywordScorer.build(terms, *statistics) if terms and statistics else None

    scored = [_scored(row, scorer) for row in rows]
    vector_rank = _ranks(scored, lambda s: (-s["cosine"], *_tie(s)))
    keyword_rank = _ranks([s for s in scored if s["keyword"] > 0], lambda s: (-s["keyword"], -s["cosine"], *_tie(s)))
    if mode == "vector":
        ordered = sorted(scored, key=lambda s: (-s["cosine"], *_tie(s)))
    else:
        ordered = sorted(scored, key=lambda s: (-s["relevance"], -s["cosine"], *_tie(s)))
    top = max((s["relevance"] for s in ordered), default=0.0)
    if threshold is not None:
        # Not covered: nothing is relevant enough. Covered: drop only the noise at the tail.
        if any(covers(s["relevance"], s["keyword"], len(s["matched"]), threshold) for s in ordered):
            ordered = [s for s in ordered if s["relevance"] >= threshold - PASSAGE_MARGIN or s["keyword"] > 0]
        else:
            ordered = []
    return [
        _hit(s, mode, threshold, top, vector_rank.get(s["key"]), keyword_rank.get(s["key"])) for s in ordered[:top_k]
    ]


def _tie(s: dict[str, Any]) -> tuple[str, str, int]:
    return (s["row"]["title"], s["key"][0], s["key"][1])


def _ranks(items: list[dict[str, Any]], order: Any) -> dict[Key, int]:
    return {s["key"]: i for i, s in enumerate(sorted(items, key=order), 1)}


def _scored(row: dict[str, Any], scorer: KeywordScorer | None) -> dict[str, Any]:
    cosine = 1.0 - float(row["distance"])
    matched = list(row["matched"] or [])
    keyword = scorer.score(matched) if scorer is not None else 0.0
    return {
        "key": (row["document_id"], row["chunk_index"]),
        "row": row,
        "cosine": cosine,
        "keyword": keyword,
        "matched": matched,
        "relevance": relevance(cosine, keyword),
    }


def _hit(
    s: dict[str, Any], mode: str, threshold: float | None, top: float, v_rank: int | None, k_rank: int | None
) -> SearchHit:
    row = s["row"]
    return SearchHit(
        document_id=s["key"][0],
        kb_id=row["kb_id"],
        title=row["title"],
        chunk_index=s["key"][1],
        score=round(s["cosine"] if mode == "vector" else s["relevance"], 6),
        text=row["text"],
        heading_path=list(row["heading_path"] or []),
        page=row["page"],
        row=row["row"],
        similarity=round(s["cosine"], 6),
        vector_rank=v_rank,
        keyword_rank=k_rank,
        keyword_score=round(s["keyword"], 6),
        matched_terms=s["matched"],
        relevance=round(s["relevance"], 6),
        threshold=threshold,
        top_relevance=round(top, 6),
    )


def _scope(conn: Any, owner_id: str, kb_ids: list[str], pool: int) -> tuple[list[str], list[str]]:
    """The owner's knowledge bases among ``kb_ids`` and their documents not in force (superseded or
    outside their validity period), and the search settings of this transaction, in one round trip.

    ``set_config(..., true)`` is ``SET LOCAL``: it lasts until the end of the surrounding transaction.
    ``ef_search`` covers the vector list plus the rows the filter on excluded documents may drop.
    Large knowledge bases have a partial HNSW index (``WHERE kb_id = ...``): a custom plan sees the
    kb id and can prove the predicate; small ones are searched exactly (claw_ai.retrieval.vector_index).
    """
    row = conn.execute(
        """WITH owned AS (
               SELECT coalesce(array_agg(k.id::text), '{}') AS kbs FROM knowledge_bases k
                WHERE k.owner_id = %(owner)s AND k.id = ANY(%(kbs)s::uuid[])),
           excluded AS (
               SELECT coalesce(array_agg(d.id::text), '{}') AS ids FROM documents d
                WHERE d.owner_id = %(owner)s AND d.kb_id = ANY(%(kbs)s::uuid[])
                  AND (d.superseded_by IS NOT NULL OR d.valid_from > now() OR d.valid_until <= now()))
           SELECT owned.kbs, excluded.ids AS excluded,
                  set_config('hnsw.ef_search', greatest(%(ef)s, %(pool)s + cardinality(excluded.ids))::text, true),
                  set_config('hnsw.iterative_scan', 'relaxed_order', true),
                  set_config('hnsw.max_scan_tuples', %(max_scan)s, true),
                  set_config('plan_cache_mode', 'force_custom_plan', true)
             FROM owned, excluded""",
        {"owner": owner_id, "kbs": kb_ids, "ef": EF_SEARCH, "pool": pool, "max_scan": str(MAX_SCAN_TUPLES)},
    ).fetchone()
    return list(row["kbs"]), list(row["excluded"])


_KEYWORD_CTES = """,
           matching AS MATERIALIZED (
               SELECT c.document_id, c.chunk_index, c.tsv FROM chunks c
                WHERE c.owner_id = %(owner)s AND c.kb_id = ANY(%(kbs)s::uuid[])
                  AND c.tsv @@ to_tsquery('simple', %(q)s)),
           ranked AS (
               SELECT m.document_id, m.chunk_index FROM matching m
                WHERE m.document_id <> ALL(%(excluded)s::uuid[])
                ORDER BY ts_rank_cd(m.tsv, to_tsquery('simple', %(q)s), %(norm)s) DESC, m.document_id, m.chunk_index
                LIMIT %(n_keyword)s)"""
_STATISTICS = """,
                  ARRAY(SELECT (SELECT count(*) FROM matching m WHERE m.tsv @@ to_tsquery('simple', t.term))
                          FROM unnest(%(terms)s::text[]) WITH ORDINALITY AS t(term, i) ORDER BY t.i) AS df,
                  (SELECT count(*) FROM chunks a WHERE a.kb_id = ANY(%(kbs)s::uuid[])) AS total"""


def _candidates(
    conn: Any,
    owner_id: str,
    kb_ids: list[str],
    vector: Any,
    pool: int,
    excluded: list[str],
    terms: list[str],
    mode: str,
) -> tuple[list[dict[str, Any]], tuple[dict[str, int], int] | None]:
    """Both candidate lists, every candidate scored, and the keyword statistics, in one statement.

    * ``nearest``: the ``pool`` nearest chunks (plus as many as excluded documents may drop), by
      the per-knowledge-base HNSW index or exactly. The iterative scan's relaxed order may return
      rows slightly out of order, so the list is materialised and re-ordered by exact distance.
    * ``matching``: the chunks holding any of the question's terms, read once: the hybrid keyword
      list (``ranked``, by length-normalised ``ts_rank_cd``) and each term's document frequency
      come from the same rows (every chunk holding one term holds the disjunction).
    * every candidate of either list: its cosine distance, the terms it holds and its display fields.
    * ``total``: the knowledge bases' chunk count (``kb_id`` index; ownership was checked by ``_scope``).
    """
    keyword_ctes = _KEYWORD_CTES if terms else ""
    keyword_keys = "UNION SELECT document_id, chunk_index FROM ranked" if terms and mode == "hybrid" else ""
    statistics = _STATISTICS if terms else ""
    rows = conn.execute(
        f"""WITH nearest AS MATERIALIZED (
               SELECT c.document_id, c.chunk_index FROM chunks c
                WHERE c.owner_id = %(owner)s AND c.kb_id = ANY(%(kbs)s::uuid[])
                  AND c.document_id <> ALL(%(excluded)s::uuid[])
                ORDER BY c.embedding <=> %(v)s::halfvec
                LIMIT %(n_vector)s){keyword_ctes},
           keys AS (SELECT document_id, chunk_index FROM nearest {keyword_keys})
           SELECT c.document_id::text AS document_id, c.chunk_index, c.kb_id::text AS kb_id, c.text,
                  c.heading_path, c.page, c.row, d.title, c.embedding <=> %(v)s AS distance,
                  ARRAY(SELECT t FROM unnest(%(terms)s::text[]) AS t
                         WHERE c.tsv @@ to_tsquery('simple', t)) AS matched{statistics}
             FROM keys k
             JOIN chunks c ON c.document_id = k.document_id AND c.chunk_index = k.chunk_index
             JOIN documents d ON d.id = c.document_id
            WHERE c.owner_id = %(owner)s""",  # noqa: S608 - the composed parts are constants; values are parameters
        {
            "v": vector,
            "owner": owner_id,
            "kbs": kb_ids,
            "excluded": excluded,
            "n_vector": pool + len(excluded),
            "n_keyword": pool,
            "q": " | ".join(terms),  # letters and digits only: safe as to_tsquery input
            "norm": TS_RANK_NORMALISATION,
            "terms": terms,
        },
    ).fetchall()
    if not rows or not terms:
        return rows, None
    df = rows[0]["df"]
    return rows, ({t: int(n) for t, n in zip(terms, df, strict=True)}, int(rows[0]["total"]))
