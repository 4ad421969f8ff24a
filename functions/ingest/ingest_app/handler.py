"""Ingest function: SQS batches of S3 object events, one record failing alone."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from claw_common import db
from claw_common.observability import MetricUnit, logger, metrics, tracer
from ingest_app.logic import record_object_event
from ingest_app.models import S3EventNotification, S3NotificationSqsRecord

processor = BatchProcessor(event_type=EventType.SQS, model=S3NotificationSqsRecord)


@tracer.capture_method(capture_response=False)
def handle_record(record: S3NotificationSqsRecord) -> None:
    notification = record.body
    if not isinstance(notification, S3EventNotification):
        logger.info("skipping s3:TestEvent", extra={"message_id": record.messageId})
        return
    for event in notification.Records:
        with db.connection() as conn:
            row = record_object_event(conn, event)
        logger.info(
            "object event received",
            extra={
                "event_name": event.eventName,
                "bucket": row["bucket"],
                "key": row["object_key"],
                "deliveries": row["deliveries"],
            },
        )
        metrics.add_metric(name="ObjectEventsReceived", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
