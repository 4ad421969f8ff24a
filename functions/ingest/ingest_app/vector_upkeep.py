"""After a document is ingested: its knowledge base gets its own HNSW index once it is large.

See ``claw_ai.retrieval.vector_index``. A failure here never fails the record: the chunks are
stored and searchable (exactly, just slower); the next ingest into the knowledge base retries.
"""

from __future__ import annotations

from typing import Any

from claw_common.data import db
from claw_common.observability import logger


def index_after_ingest(document_id: str | None, kb_id: str | None = None) -> None:
    """Build the document's knowledge base's vector index if it has reached the size for one.

    ``kb_id``: the document's knowledge base when the caller knows it (else it is looked up).
    """
    if not document_id:
        return
    from claw_ai.retrieval.vector_index import ensure_index

    try:
        with db.connection() as conn:
            if kb_id is None:
                row: Any = conn.execute(
                    "SELECT kb_id::text AS kb_id FROM documents WHERE id = %s", (document_id,)
                ).fetchone()
                kb_id = row["kb_id"] if row is not None else None
            if kb_id is not None:
                # The checks on the pooled connection (committed before any build, which uses its own).
                ensure_index(kb_id, conn=conn)
    except Exception:  # noqa: BLE001 - the document is ingested; search stays exact meanwhile
        logger.warning("vector index upkeep failed", extra={"document_id": document_id}, exc_info=True)
