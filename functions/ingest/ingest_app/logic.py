"""Ingest logic: what happens to each S3 object event.

ObjectCreated: HEAD the object (its size is checked before any download), then, under a
per-document lock, parse → chunk → embed → replace the document's chunks in one
transaction. ObjectRemoved: delete the document and its chunks if the object is really
gone.

Ordering and duplicates (SQS delivers at least once, S3 in no particular order):

* The same event twice changes nothing: the document remembers the object version (or,
  without versioning, the ETag) whose chunks it holds.
* Concurrent deliveries of one document wait for its advisory lock, then see the version
  already ingested.
* An older event arriving late never overwrites a newer version: HEAD tells which version
  is current (an event for another version is skipped) and, where S3 sends one, the event's
  sequencer must not be older than the one already applied.

Which failures retry (decided here, documented in docs/knowledge.md):

* ``DocumentRejected`` (corrupt, encrypted, zip bomb, too large, too many pages, empty,
  unsupported) and any other parser crash are properties of the file: the document is
  marked failed with the reason, and the record **succeeds** (retrying cannot help).
* Everything else (database, S3, cache, embedding provider) may be temporary: the
  document is marked failed with a "temporary" reason and the record **raises**, so SQS
  redelivers it and, after maxReceiveCount, moves it to the dead-letter queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claw_common.data import db
from claw_common.documents import knowledge_base_of
from claw_common.observability import MetricUnit, emit_metric, logger, metrics, tracer
from ingest_app import ocr_handoff as ocr
from ingest_app import repository as repo
from ingest_app.copy_rows import encode_rows
from ingest_app.deps import IngestDeps, get_ingest_deps
from ingest_app.models import S3EventRecord
from ingest_app.objects import RetryableIngestError, download, head_object
from ingest_app.parsers import DocumentRejected
from ingest_app.steps import embed, parse_and_chunk, segment


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to one S3 event record (logged, and asserted by tests)."""

    action: str  # ingested | failed | skipped | removed | ocr (waiting for OCR)
    reason: str = ""
    document_id: str | None = None
    chunks: int = 0
    kb_id: str | None = None  # of an ingested document: its knowledge base's vector-index upkeep runs next


def record_object_event(conn: Any, record: S3EventRecord) -> dict[str, Any]:
    """Record an object event once; a redelivery only bumps ``deliveries``."""
    obj = record.s3.object
    row = conn.execute(
        """INSERT INTO ingest_objects
               (bucket, object_key, version_id, etag, size, event_name, event_time, sequencer)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (bucket, object_key, version_id, etag, event_name)
           DO UPDATE SET deliveries = ingest_objects.deliveries + 1
           RETURNING id, bucket, object_key, deliveries""",
        (
            record.s3.bucket.name,
            obj.decoded_key,
            obj.versionId or "",
            (obj.eTag or "").strip('"'),
            obj.size,
            record.eventName,
            record.eventTime,
            obj.sequencer,
        ),
    ).fetchone()
    return dict(row)


def sequencer_is_older(candidate: str | None, applied: str | None) -> bool:
    """True when ``candidate`` is strictly older than ``applied``.

    S3 sequencers are hex strings of varying length, compared after left-padding with zeros,
    which is the same as comparing them as integers. Missing or malformed → not older.
    """
    if not candidate or not applied:
        return False
    try:
        return int(candidate, 16) < int(applied, 16)
    except ValueError:
        return False


# --------------------------------------------------------------------------- entry point


@tracer.capture_method(capture_response=False)
def process_object_event(record: S3EventRecord, deps: IngestDeps | None = None) -> IngestOutcome:
    """Handle one S3 event record; raises ``RetryableIngestError`` when it should be retried."""
    deps = deps or get_ingest_deps()
    bucket = record.s3.bucket.name
    key = record.s3.object.decoded_key
    # Bulk work: statements (COPY of every chunk, the per-document lock wait) get 15 s, not the API's 3 s.
    with db.connection(statement_timeout_ms=15_000) as conn:
        audit = record_object_event(conn, record)
        conn.commit()
        logger.info(
            "object event received",
            extra={"event_name": record.eventName, "bucket": bucket, "key": key, "deliveries": audit["deliveries"]},
        )
        if record.eventName.startswith("ObjectRemoved"):
            outcome = _object_removed(conn, deps, record, bucket, key)
        elif record.eventName.startswith("ObjectCreated"):
            outcome = _object_created(conn, deps, record, bucket, key)
        else:
            outcome = IngestOutcome("skipped", f"event {record.eventName} is not handled")
    logger.info(
        "object event handled",
        extra={"key": key, "action": outcome.action, "reason": outcome.reason, "document_id": outcome.document_id},
    )
    return outcome


# --------------------------------------------------------------------------- created


def _object_created(conn: Any, deps: IngestDeps, record: S3EventRecord, bucket: str, key: str) -> IngestOutcome:
    parsed_key = knowledge_base_of(key)
    if parsed_key is None:
        return IngestOutcome(
            "skipped",
            f"the key {key!r} is not of the form kb/<knowledge_base_id>/<file>, where the id is a "
            "knowledge base's UUID (the id POST /api/v1/knowledge returned)",
        )
    kb_id, filename = parsed_key
    kb = repo.knowledge_base_owner(conn, kb_id)
    if kb is None:
        conn.rollback()
        return IngestOutcome(
            "skipped", f"knowledge base {kb_id} does not exist (create it first: POST /api/v1/knowledge)"
        )

    # The HEAD from the work ahead's GET; its chunks and vectors are waited for only once the
    # document row, its lock and its status are done (ingest_app.ahead.Claim).
    claim = deps.ahead.claim(bucket, key) if deps.ahead is not None else None
    head = claim.head() if claim is not None else None
    if head is None:
        head = head_object(deps.s3, bucket, key)
    if head is None:
        conn.rollback()
        return IngestOutcome("skipped", "the object no longer exists")
    event_obj = record.s3.object
    event_version = event_obj.versionId if event_obj.versionId not in (None, "", "null") else None
    event_etag = (event_obj.eTag or "").strip('"') or None
    if (event_version and head["version_id"] and event_version != head["version_id"]) or (
        not event_version and event_etag and head["etag"] and event_etag != head["etag"]
    ):
        # A newer version replaced this one; its own event ingests it.
        conn.rollback()
        return IngestOutcome("skipped", "superseded by a newer version of the object")

    document = repo.find_or_create_document(
        conn, kb=kb, bucket=bucket, key=key, filename=filename, content_type=head["content_type"]
    )
    conn.commit()
    document_id = str(document["id"])
    identity = {
        "version_id": head["version_id"],
        "etag": head["etag"],
        "sequencer": event_obj.sequencer,
        "size": head["size"],
    }
    _lock(conn, document_id)
    try:
        return _ingest_locked(
            conn, deps, kb=kb, document_id=document_id, identity=identity, head=head, key=key, claim=claim
        )
    finally:
        _unlock(conn, document_id)


def _lock(conn: Any, document_id: str) -> None:
    """Take the document's session lock; the transaction stays open for the reads that follow.

    (A session lock outlives the transaction it was taken in, committed or rolled back.)
    """
    import psycopg

    try:
        repo.lock_document(conn, document_id)
    except psycopg.errors.QueryCanceled as exc:
        # Another invocation has held this document longer than the statement timeout: let
        # SQS bring the event back later, when that ingest has finished (without touching status).
        conn.rollback()
        raise RetryableIngestError("the document is being ingested by another invocation") from exc


def _unlock(conn: Any, document_id: str) -> None:
    import psycopg

    try:
        conn.rollback()
        # In autocommit: one round trip, without a transaction of its own around it.
        conn.autocommit = True
        try:
            repo.unlock_document(conn, document_id)
        finally:
            conn.autocommit = False
    except psycopg.Error:
        # A broken connection has lost its session locks with it.
        logger.warning("could not release the document lock", extra={"document_id": document_id})


def _ingest_locked(
    conn: Any,
    deps: IngestDeps,
    *,
    kb: repo.KnowledgeBaseOwner,
    document_id: str,
    identity: dict[str, Any],
    head: dict[str, Any],
    key: str,
    claim: Any = None,
) -> IngestOutcome:
    """Ingest the object version ``identity`` under the document's lock (``claim``: see ``ingest_app.ahead``)."""
    document = repo.get_document(conn, document_id)
    if document is None:
        return IngestOutcome("skipped", "the document was deleted", document_id)
    same_object = (document["s3_version_id"], document["s3_etag"]) == (identity["version_id"], identity["etag"])
    if same_object and document["status"] in ("ready", "failed") and document["error_code"] != "temporary":
        conn.rollback()
        return IngestOutcome("skipped", "this version is already ingested", document_id)
    if sequencer_is_older(identity["sequencer"], document["s3_sequencer"]):
        conn.rollback()
        return IngestOutcome("skipped", "an older event arrived after a newer one", document_id)

    stage = "starting"
    try:
        limits = deps.limits_for(kb.tier)
        if head["size"] > limits.max_bytes:
            # Checked on the HEAD, before a single byte is downloaded.
            raise DocumentRejected(
                f"file is too large: {head['size'] / 1048576:.1f} MB, the limit of the {kb.tier} tier is "
                f"{limits.max_bytes / 1048576:.0f} MB",
                code="too_large",
            )
        repo.mark_processing(conn, document_id)
        # Read with the status change: no transaction stays open while the file is parsed and embedded.
        source = ocr.source_version(identity)
        ocr_text, ocr_errors = ocr.ocr_texts(conn, document_id, source)
        conn.commit()
        if deps.ahead is not None:
            deps.ahead.start(limits)

        stage = "downloading the file"
        prepared = claim.prepared() if claim is not None else None
        if prepared is not None and prepared.head != head:
            prepared = None  # made from another version than the one checked (the HEAD came from elsewhere)
        data = prepared.data if prepared is not None else None
        if data is None:
            data = download(deps.s3, document["s3_bucket"], key, identity["version_id"], limits.max_bytes)
        stage = "parsing the file"
        if prepared is not None and prepared.fits(document, limits, ocr_text, ocr_errors):
            chunks, parsed, rows = prepared.chunks, prepared.parsed, prepared.rows
            metrics.add_metric(
                name="EmbeddingLatency", unit=MetricUnit.Milliseconds, value=prepared.embed_seconds * 1000
            )
        else:
            chunks, parsed = parse_and_chunk(data, document, head, limits, ocr_text, ocr_errors)
            if parsed.ocr_missing:
                stage = "sending pages to OCR"
                return _send_to_ocr(conn, deps, document, identity, parsed)
            stage = "embedding"
            vectors = embed(deps.embedder, [c.text for c in chunks])
            rows = encode_rows(chunks, segment([c.text for c in chunks]), vectors)

        stage = "storing chunks"
        with conn.transaction():
            current = repo.get_document(conn, document_id, for_update=True)
            if current is None:
                return IngestOutcome("skipped", "the document was deleted during ingest", document_id)
            repo.replace_chunks(conn, document=current, rows=rows)
            repo.mark_ready(
                conn,
                document_id,
                values={
                    "chunk_count": len(chunks),
                    "token_count": sum(c.token_count for c in chunks),
                    "parser": parsed.parser,
                    "file_type": parsed.file_type,
                    "page_count": parsed.page_count,
                    "size": identity["size"],
                    "content_type": head["content_type"],
                    "embedding_model": deps.embedder.name,
                    "version_id": identity["version_id"],
                    "etag": identity["etag"],
                    "sequencer": identity["sequencer"],
                },
            )
            ocr.record_ocr_pages(conn, document_id, source=source, pages=len(parsed.ocr_pages))
        conn.commit()
    except DocumentRejected as exc:
        conn.rollback()
        repo.mark_failed(conn, document_id, reason=exc.reason, code=exc.code, identity=identity)
        conn.commit()
        _failure_metric(exc.code)
        return IngestOutcome("failed", exc.reason, document_id)
    except Exception as exc:
        reason = (
            f"a temporary error interrupted ingestion while {stage} ({type(exc).__name__}); "
            "it is retried automatically (reindex the document to try again later)"
        )
        logger.warning(
            "ingest failed; the record will be retried",
            extra={"document_id": document_id, "stage": stage, "error": type(exc).__name__},
        )
        _mark_failed_best_effort(conn, document_id, reason)
        _failure_metric("temporary")
        raise RetryableIngestError(reason) from exc

    metrics.add_metric(name="DocumentsIngested", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ChunksWritten", unit=MetricUnit.Count, value=len(chunks))
    return IngestOutcome("ingested", "", document_id, len(chunks), kb.kb_id)


def _send_to_ocr(
    conn: Any, deps: IngestDeps, document: dict[str, Any], identity: dict[str, Any], parsed: Any
) -> IngestOutcome:
    done = len(parsed.ocr_pages) - len(parsed.ocr_missing)
    document_id = str(document["id"])
    if not deps.ocr_queue_url:
        raise DocumentRejected(
            "the document needs OCR (scanned pages or an image), which this deployment does not have",
            code="unsupported_type",
        )
    with conn.transaction():
        ocr.start_ocr(conn, document_id, source=ocr.source_version(identity), total=len(parsed.ocr_pages), done=done)
    conn.commit()
    messages = ocr.enqueue_ocr(
        deps.sqs,
        deps.ocr_queue_url,
        document=document,
        identity=identity,
        file_type=parsed.file_type,
        pages=parsed.ocr_missing,
        pages_per_message=deps.ocr_pages_per_message,
    )
    metrics.add_metric(name="OcrPagesQueued", unit=MetricUnit.Count, value=len(parsed.ocr_missing))
    return IngestOutcome("ocr", f"{len(parsed.ocr_missing)} pages sent to OCR in {messages} messages", document_id)


def _mark_failed_best_effort(conn: Any, document_id: str, reason: str) -> None:
    import psycopg

    try:
        conn.rollback()
        repo.mark_failed(conn, document_id, reason=reason, code="temporary")
        conn.commit()
    except psycopg.Error:
        # The database itself is down: the retry (or the DLQ) keeps the event; status catches up later.
        logger.warning("could not record the failure on the document", extra={"document_id": document_id})


def _failure_metric(reason: str) -> None:
    # Plain (service only) for the failure-rate alarm, and by reason for the dashboard.
    metrics.add_metric(name="IngestFailures", unit=MetricUnit.Count, value=1)
    emit_metric("IngestFailures", MetricUnit.Count, 1, reason=reason)


# --------------------------------------------------------------------------- removed


def _object_removed(conn: Any, deps: IngestDeps, record: S3EventRecord, bucket: str, key: str) -> IngestOutcome:
    document = repo.find_document(conn, bucket, key)
    conn.rollback()
    if document is None:
        return IngestOutcome("skipped", "no document for this key")
    document_id = str(document["id"])
    if head_object(deps.s3, bucket, key) is not None:
        # A non-current version was deleted, or the key was written again since: keep the document.
        return IngestOutcome("skipped", "the object still exists", document_id)
    _lock(conn, document_id)
    try:
        current = repo.get_document(conn, document_id)
        if current is None:
            return IngestOutcome("skipped", "the document is already deleted", document_id)
        if sequencer_is_older(record.s3.object.sequencer, current["s3_sequencer"]):
            conn.rollback()
            return IngestOutcome("skipped", "an older removal arrived after a newer write", document_id)
        repo.delete_document(conn, document_id)
        conn.commit()
    finally:
        _unlock(conn, document_id)
    metrics.add_metric(name="DocumentsRemoved", unit=MetricUnit.Count, value=1)
    return IngestOutcome("removed", "the object was deleted", document_id)
