"""Knowledge search (hit testing with ``explain``) and answers from the passages."""

from __future__ import annotations

from typing import Any

from claw_ai.answering.no_answer import kb_no_answer_message
from claw_ai.retrieval.relevance import KEYWORD_COVERED, KEYWORD_WEIGHT, PASSAGE_MARGIN
from claw_ai.retrieval.retriever import get_retriever, snippet_of, source_of
from claw_ai.retrieval.search import SearchHit
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.observability import MetricUnit, metrics
from knowledge_app.common import kb_not_found, owned_kb, uuid_or_404
from knowledge_app.models import PassageExplain, QueryRequest, QueryResponse, QueryUsage, SourceOut
from knowledge_app.repository import KnowledgeRepository


def query(caller: Caller, body: QueryRequest, *, kb_id: str | None = None) -> QueryResponse:
    """Search one knowledge base (``kb_id``) or several of the caller's; optionally answer from the passages.

    Passages below the embedding model's relevance threshold are left out; when none is
    left the response has ``no_answer: true`` (and, with ``answer``, the knowledge base's
    no-answer message). With ``explain`` every source says how it ranked and why it passed.
    """
    with db.connection() as conn:
        kb_ids = _searched_kbs(conn, caller, body, kb_id)
        hits = get_retriever().hits(
            conn, owner_id=caller.user_id, kb_ids=kb_ids, question=body.question, top_k=body.top_k, mode=body.mode
        )
        message = kb_no_answer_message(conn, caller.user_id, kb_ids) if body.answer else None
    metrics.add_metric(name="KnowledgeQueries", unit=MetricUnit.Count, value=1)
    result = QueryResponse(mode=body.mode, sources=[_source_out(h, body) for h in hits], no_answer=not hits)
    if body.answer:
        from claw_ai.answering.pipeline import Grounding, answer_question

        answer = answer_question(
            caller,
            body.question,
            [source_of(h, body.question) for h in hits],
            grounding=Grounding(body.question, message),
        )
        result.answer, result.model, result.cached = answer.content, answer.model, answer.cached
        result.usage = QueryUsage(**answer.usage_out())  # type: ignore[arg-type]
        if answer.no_answer:
            result.no_answer, result.sources = True, []
    return result


def _searched_kbs(conn: Any, caller: Caller, body: QueryRequest, kb_id: str | None) -> list[str]:
    repo = KnowledgeRepository(conn)
    if kb_id is not None:
        kb_ids = [uuid_or_404(kb_id, kb_not_found())]
        owned_kb(conn, caller, kb_ids[0])
        return kb_ids
    if body.knowledge_base_ids is not None:
        wanted = list(dict.fromkeys(uuid_or_404(k, kb_not_found()) for k in body.knowledge_base_ids))
        kb_ids = repo.owned_kb_ids(caller.user_id, wanted)
        if len(kb_ids) != len(wanted):
            raise kb_not_found()
        return kb_ids
    return repo.owned_kb_ids(caller.user_id, None)


def _source_out(hit: SearchHit, body: QueryRequest) -> SourceOut:
    return SourceOut(
        document_id=hit.document_id,
        title=hit.title,
        chunk_index=hit.chunk_index,
        score=hit.score,
        snippet=snippet_of(hit.text, hit.heading_path, body.question, title=hit.title),
        heading=" > ".join(hit.heading_path) or None,
        page=hit.page,
        knowledge_base_id=hit.kb_id,
        explain=explain(hit) if body.explain else None,
    )


def explain(hit: SearchHit) -> PassageExplain:
    """How a passage ranked in each list and why it passed the relevance threshold."""
    fused = (
        f"relevance {hit.relevance:.3f} = cosine {hit.similarity or 0:.3f} "
        f"+ {KEYWORD_WEIGHT} x keyword {hit.keyword_score:.3f}"
    )
    if hit.threshold is None:
        reason = f"{fused}; no threshold for this embedding model, every passage counts"
    else:
        floor = hit.threshold - PASSAGE_MARGIN
        covered = (
            f"its best passage has relevance {hit.top_relevance:.3f} >= threshold {hit.threshold:.3f}"
            if hit.top_relevance >= hit.threshold
            else f"a passage holds >= {KEYWORD_COVERED:.0%} of its keyword weight"
        )
        kept = f"relevance >= floor {floor:.3f}" if hit.relevance >= floor else "it matches keywords"
        reason = f"{fused}; the question is covered: {covered}; this passage is kept: {kept}"
    if hit.matched_terms:
        reason += f"; keywords found: {', '.join(hit.matched_terms)}"
    return PassageExplain(
        vector_rank=hit.vector_rank,
        vector_score=hit.similarity or 0.0,
        keyword_rank=hit.keyword_rank,
        keyword_score=hit.keyword_score,
        matched_terms=hit.matched_terms,
        relevance=hit.relevance,
        threshold=hit.threshold,
        reason=reason,
    )
