"""Knowledge bases: create, list, read, update (name, description, no-answer message), delete."""

from __future__ import annotations

from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.data.invalidation import conversations_changed
from claw_common.documents import KB_PREFIX
from claw_common.observability import logger
from knowledge_app.common import (
    delete_all_versions,
    documents_bucket,
    kb_not_found,
    keyset_after,
    page_of,
    uuid_or_404,
)
from knowledge_app.models import KnowledgeBase, KnowledgeBaseCreate, KnowledgeBasePage, KnowledgeBaseUpdate
from knowledge_app.repository import KnowledgeRepository


def create_knowledge_base(caller: Caller, body: KnowledgeBaseCreate) -> KnowledgeBase:
    """Create a knowledge base of the caller."""
    with db.connection() as conn:
        row = KnowledgeRepository(conn).create_kb(caller.user_id, body.name, body.description, body.no_answer_message)
    return KnowledgeBase.model_validate(row)


def list_knowledge_bases(caller: Caller, *, limit: int, cursor: str | None) -> KnowledgeBasePage:
    """The caller's knowledge bases, newest first, ``limit`` per page."""
    after = keyset_after(cursor)
    with db.connection() as conn:
        rows = KnowledgeRepository(conn).list_kbs(caller.user_id, limit=limit + 1, after=after)
    items, next_cursor = page_of(rows, limit)
    return KnowledgeBasePage(items=[KnowledgeBase.model_validate(row) for row in items], next_cursor=next_cursor)


def get_knowledge_base(caller: Caller, kb_id: str) -> KnowledgeBase:
    """One of the caller's knowledge bases (404 otherwise)."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    with db.connection() as conn:
        kb = KnowledgeRepository(conn).get_kb(caller.user_id, kb_id)
    if kb is None:
        raise kb_not_found()
    return KnowledgeBase.model_validate(kb)


def update_knowledge_base(caller: Caller, kb_id: str, body: KnowledgeBaseUpdate) -> KnowledgeBase:
    """Rename or re-describe a knowledge base."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    changes = body.model_dump(exclude_unset=True)
    if changes.get("description") is None:
        changes.pop("description", None)
    if changes.get("name") is None:
        changes.pop("name", None)
    with db.connection() as conn:
        kb = KnowledgeRepository(conn).update_kb(caller.user_id, kb_id, changes)
    if kb is None:
        raise kb_not_found()
    return KnowledgeBase.model_validate(kb)


def _drop_vector_index(kb_id: str) -> None:
    import psycopg

    from claw_ai.retrieval import vector_index

    try:
        vector_index.drop_index(kb_id)
    except psycopg.Error as exc:  # the knowledge base is deleted; its index matches no row any more
        logger.warning("vector index left for the sweep", extra={"kb_id": kb_id, "error": type(exc).__name__})


def delete_knowledge_base(caller: Caller, kb_id: str) -> None:
    """Delete a knowledge base: its files in S3 (every version), then its documents and chunks."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    with db.connection() as conn:
        if KnowledgeRepository(conn).get_kb(caller.user_id, kb_id) is None:
            raise kb_not_found()
    # Objects first: if S3 fails nothing is deleted and the client can retry. Their
    # ObjectRemoved events find no document left and change nothing.
    removed = delete_all_versions(documents_bucket(), prefix=f"{KB_PREFIX}{kb_id}/")
    from claw_ai.retrieval import vector_index

    def delete_rows() -> bool:
        with db.connection() as conn:
            KnowledgeRepository(conn).delete_kb(caller.user_id, kb_id)
            return vector_index.index_state(conn, kb_id) != "none"

    # The cascade meets the row locks of an ingest writing one of its documents: a deadlock's loser is run again.
    indexed = db.retrying_conflicts(delete_rows)
    if indexed:  # its own HNSW index goes too, once the rows are gone (a concurrent drop blocks nobody)
        _drop_vector_index(kb_id)
    # Conversations that used it now have no knowledge base (ON DELETE SET NULL).
    conversations_changed(caller.user_id)
    logger.info("knowledge base deleted", extra={"kb_id": kb_id, "objects_removed": removed})
