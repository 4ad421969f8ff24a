"""The pgvector retriever: ``claw_ai.retrieval.search`` behind the ``Retriever`` seam."""

from __future__ import annotations

import re
from typing import Any

from claw_ai.retrieval.search import SearchHit, search_chunks
from claw_ai.retrieval.sources import SNIPPET_CHARS, Source

HEADING_SEPARATOR = " > "


_SENTENCE = re.compile(r"[^。！？；.!?\n]*(?:[。！？；]|[.!?](?=\s|$)|\n|$)")


def snippet_of(
    hit_text: str, heading_path: list[str], question: str = "", limit: int = SNIPPET_CHARS, title: str = ""
) -> str:
    """What a client shows of a passage: up to ``limit`` characters around the question's terms.

    The title and heading line the chunker puts first is dropped (``title`` and ``heading``
    carry it). The window starts at the sentence with the most query terms, so the matching
    part of a long chunk is what the user sees; without a question it is the start of the passage.
    """
    text = hit_text
    first, _, rest = text.partition("\n")
    if rest and first.strip() in _heading_lines(heading_path, title):
        text = rest
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    start = _best_sentence_start(text, question) if question else 0
    if start == 0:
        return text[: limit - 1].rstrip() + "…"
    # Near the end, use the room left to show more of what precedes the best sentence.
    room = limit - 1
    start = max(1, min(start, len(text) - room))
    window = text[start : start + room]
    if start + room < len(text):
        window = window[:-1].rstrip() + "…"
    return "…" + window.lstrip()


def _heading_lines(heading_path: list[str], title: str) -> set[str]:
    """The first lines the chunker may have written for this path and title."""
    title = " ".join(title.split())
    lines = {HEADING_SEPARATOR.join(heading_path).strip()} if heading_path else set()
    if title:
        path = heading_path[1:] if heading_path and heading_path[0] == title else heading_path
        lines.add(HEADING_SEPARATOR.join([title, *path]).strip())
    return lines


def _best_sentence_start(text: str, question: str) -> int:
    from claw_ai.textseg import query_terms

    terms = [t for t in query_terms(question) if t]
    if not terms:
        return 0
    lowered = text.lower()
    best, best_score = 0, 0
    for match in _SENTENCE.finditer(lowered):
        sentence = match.group()
        if not sentence.strip():
            continue
        score = sum(1 for t in terms if t in sentence)
        if score > best_score:
            best, best_score = match.start(), score
    return best


def source_of(hit: SearchHit, question: str = "") -> Source:
    """A search hit as chat's ``Source`` (snippet around the question's terms)."""
    return Source(
        document_id=hit.document_id,
        title=hit.title,
        chunk_index=hit.chunk_index,
        score=hit.score,
        snippet=snippet_of(hit.text, hit.heading_path, question, title=hit.title),
        text=hit.text,
        heading=HEADING_SEPARATOR.join(hit.heading_path) or None,
        page=hit.page,
    )


class PgVectorRetriever:
    """Searches the owner's knowledge bases in PostgreSQL (HNSW vector or hybrid with keywords)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def search(
        self,
        conn: Any,
        *,
        owner_id: str,
        kb_ids: list[str],
        question: str,
        top_k: int,
        mode: str = "hybrid",
    ) -> list[Source]:
        """The ``top_k`` best chunks of the owner's ``kb_ids`` (see ``claw_ai.retrieval.search``)."""
        return [
            source_of(h)
            for h in self.hits(conn, owner_id=owner_id, kb_ids=kb_ids, question=question, top_k=top_k, mode=mode)
        ]

    def hits(
        self, conn: Any, *, owner_id: str, kb_ids: list[str], question: str, top_k: int, mode: str = "hybrid"
    ) -> list[SearchHit]:
        """The raw search hits (with knowledge base id and ranks), for the knowledge query API."""
        return search_chunks(
            conn,
            embedder=self.embedder,
            owner_id=owner_id,
            kb_ids=kb_ids,
            question=question,
            top_k=top_k,
            mode=mode,  # type: ignore[arg-type]
        )


def get_retriever() -> PgVectorRetriever:
    """The process's retriever: the deployment's embedder behind the Redis vector cache.

    Cheap to build: the embedder (its loaded model or SDK client) and the Redis client are the
    cached parts, keyed by the settings that choose them, so a changed setting takes effect.
    """
    from claw_ai.providers import get_embedder
    from claw_ai.vector_cache import CachedEmbedder, RedisVectorCache
    from claw_common.data.cache import get_redis
    from claw_common.settings import get_settings

    return PgVectorRetriever(CachedEmbedder(get_embedder(get_settings()), RedisVectorCache(get_redis())))
