"""After a document is ingested: its knowledge base gets its own HNSW index once it is large.

See ``claw_ai.retrieval.vector_index``. Load first, index after: while documents keep arriving
in a large knowledge base, each ingested document sends ingest's own queue a ``VectorIndexDue``
delayed by ``VECTOR_INDEX_QUIET_S``; the message that finds no newer document builds the index
(:func:`index_when_quiet`), the others end there. A knowledge base that reaches
``BUILD_AT_ONCE_CHUNKS``, or a deployment without the queue, is indexed at once.

A failure after the document was ingested never fails its record: the chunks are stored and
searchable (exactly, just slower), and the next document ingested into the knowledge base
plans again.
"""

from __future__ import annotations

from typing import Any

from claw_common.data import db
from claw_common.observability import MetricUnit, logger, metrics


def index_after_ingest(document_id: str | None, kb_id: str | None = None, deps: Any = None) -> None:
    """Plan the document's knowledge base's vector index: nothing, build now, or check back later.

    ``kb_id``: the document's knowledge base when the caller knows it (else it is looked up).
    ``deps``: the ``IngestDeps`` with the SQS client and ingest's queue (none: build at once).
    """
    if not document_id:
        return
    from claw_ai.retrieval.vector_index import ensure_index, plan_index

    try:
        with db.connection() as conn:
            if kb_id is None:
                row: Any = conn.execute(
                    "SELECT kb_id::text AS kb_id FROM documents WHERE id = %s", (document_id,)
                ).fetchone()
                kb_id = row["kb_id"] if row is not None else None
            if kb_id is None:
                return
            plan = plan_index(conn, kb_id)
            conn.commit()  # a build waits for every open transaction on chunks, this one too
        if plan in ("indexed", "small"):
            return
        if plan == "later" and _check_back_later(kb_id, deps):
            return
        if ensure_index(kb_id):
            metrics.add_metric(name="VectorIndexesBuilt", unit=MetricUnit.Count, value=1)
    except Exception:  # noqa: BLE001 - the document is ingested; search stays exact meanwhile
        logger.warning("vector index upkeep failed", extra={"document_id": document_id}, exc_info=True)


def _check_back_later(kb_id: str, deps: Any) -> bool:
    """Send the delayed ``VectorIndexDue``; False when there is no queue to send it to (or it failed)."""
    from ingest_app.models import VectorIndexDue

    queue_url = getattr(deps, "ingest_queue_url", None)
    sqs = getattr(deps, "sqs", None)
    quiet_s = int(getattr(deps, "index_quiet_s", 0))
    if not queue_url or sqs is None or quiet_s <= 0:
        return False
    try:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=VectorIndexDue(kb_id=kb_id).model_dump_json(),  # type: ignore[arg-type]
            DelaySeconds=min(quiet_s, 900),
        )
    except Exception:  # noqa: BLE001 - then the index is built now, as without a queue
        logger.warning("could not queue the vector index check; building now", extra={"kb_id": kb_id}, exc_info=True)
        return False
    return True


def index_when_quiet(kb_id: str, deps: Any) -> str:
    """``VectorIndexDue`` arrived: build the index unless a document came in meanwhile (then that
    document's own message decides). Raises when the build fails, so the message is retried."""
    from claw_ai.retrieval.vector_index import build_when_quiet

    outcome = build_when_quiet(kb_id, int(getattr(deps, "index_quiet_s", 0)))
    if outcome == "built":
        metrics.add_metric(name="VectorIndexesBuilt", unit=MetricUnit.Count, value=1)
    logger.info("vector index check", extra={"kb_id": kb_id, "outcome": outcome})
    return outcome
