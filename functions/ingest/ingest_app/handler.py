"""Ingest function: SQS batches of S3 object events, one record failing alone.

Powertools ``BatchProcessor`` with partial batch responses: a record whose processing
raises (a temporary failure, see ``ingest_app.logic``) is reported in
``batchItemFailures`` and comes back after the visibility timeout, up to the queue's
maxReceiveCount, then goes to the dead-letter queue. Poison files do not raise: their
document is marked failed with the reason and the record succeeds.

Time: a batch of 10 large documents can take longer than the function's timeout, and a
timeout would return the whole batch (the finished records too). So no record is started
once less than the reserve (``INGEST_TIME_RESERVE_MS``, at most a quarter of the time the
invocation started with) is left; those records are reported as batch item failures and
come back from the queue for the next invocation.

Work ahead: from the start of the invocation (once the first record's knowledge base tells the
parse limits), the batch's documents are fetched, chunked, embedded and segmented on background
threads (``ingest_app.ahead``) while each record does its database round trips and writes; a
record uses that work only when it was made from exactly its own inputs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from claw_common.data import db
from claw_common.documents import knowledge_base_of
from claw_common.observability import MetricUnit, logger, metrics, tracer
from claw_common.ocr_messages import OcrCompleted
from claw_common.settings import get_settings
from ingest_app.ahead import WorkAhead
from ingest_app.assemble import process_ocr_completed
from ingest_app.deps import IngestDeps, get_ingest_deps
from ingest_app.logic import process_object_event
from ingest_app.models import S3EventNotification, S3NotificationSqsRecord, VectorIndexDue
from ingest_app.repository import knowledge_base_owner
from ingest_app.vector_upkeep import index_after_ingest, index_when_quiet


class NotEnoughTime(Exception):
    """Too little of the invocation is left to start another record; it returns to the queue."""


def handle_record(record: S3NotificationSqsRecord, deps: IngestDeps | None = None) -> None:
    """Process every S3 event in one SQS record (S3 sends one per message), assemble after OCR,
    or build a knowledge base's vector index once its loading has settled."""
    notification = record.body
    if isinstance(notification, VectorIndexDue):
        index_when_quiet(str(notification.kb_id), deps or get_ingest_deps())
        return
    if isinstance(notification, OcrCompleted):
        outcome = process_ocr_completed(notification, deps)
        if outcome.action == "ingested":
            index_after_ingest(outcome.document_id, outcome.kb_id, deps or get_ingest_deps())
        return
    if not isinstance(notification, S3EventNotification):
        logger.info("skipping s3:TestEvent", extra={"message_id": record.messageId})
        return
    for event in notification.Records:
        metrics.add_metric(name="ObjectEventsReceived", unit=MetricUnit.Count, value=1)
        outcome = process_object_event(event, deps)
        if outcome.action == "ingested":
            index_after_ingest(outcome.document_id, outcome.kb_id, deps or get_ingest_deps())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A processor per invocation: it holds the batch's results, and tests invoke the handler
    # from several threads at once (as concurrent Lambda environments would).
    processor = BatchProcessor(event_type=EventType.SQS, model=S3NotificationSqsRecord)
    reserve_ms = min(get_settings().ingest_time_reserve_ms, context.get_remaining_time_in_millis() // 4)
    base = get_ingest_deps()
    objects = _created_objects(event)
    deps = dataclasses.replace(base, ahead=WorkAhead(base.s3, base.embedder, objects))
    _head_start(deps, objects)

    def handle_record_in_time(record: S3NotificationSqsRecord) -> None:
        if context.get_remaining_time_in_millis() < reserve_ms:
            metrics.add_metric(name="IngestRecordsDeferred", unit=MetricUnit.Count, value=1)
            raise NotEnoughTime(f"less than {reserve_ms} ms left; message {record.messageId} returns to the queue")
        # The next records' documents are prepared ahead while this one is processed (ingest_app.ahead).
        handle_record(record, deps)

    try:
        return dict(
            process_partial_response(
                event=event, record_handler=handle_record_in_time, processor=processor, context=context
            )
        )
    finally:
        deps.ahead.close()


def _head_start(deps: IngestDeps, objects: list[tuple[str, str]]) -> None:
    """Start preparing the batch's documents now, the first one included, with the parse limits of
    the first one's knowledge base: its download, parsing and embedding then overlap the record's
    own database round trips, and the embedder does not wait at the start of each batch. Any
    failure here only means the records start the work themselves, as they otherwise would."""
    first = next((parsed for _, key in objects if (parsed := knowledge_base_of(key)) is not None), None)
    if first is None or deps.ahead is None:
        return
    try:
        with db.connection() as conn:
            kb = knowledge_base_owner(conn, first[0])
            conn.rollback()
        if kb is not None:
            deps.ahead.start(deps.limits_for(kb.tier))
    except Exception:  # noqa: BLE001 - the first record looks its knowledge base up and reports
        logger.info("no head start for the batch", exc_info=True)


def _created_objects(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The (bucket, key) of every ObjectCreated event in the batch, in record order."""
    out: list[tuple[str, str]] = []
    for raw in event.get("Records") or []:
        try:
            body: Any = S3NotificationSqsRecord.model_validate(raw).body
        except Exception:  # noqa: BLE001 - a malformed record fails on its own turn, not here
            body = None
        if isinstance(body, S3EventNotification):
            out.extend(
                (e.s3.bucket.name, e.s3.object.decoded_key)
                for e in body.Records
                if e.eventName.startswith("ObjectCreated")
            )
    return out
