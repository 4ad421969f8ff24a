"""OCR function: SQS batches of page ranges, one record failing alone.

Powertools ``BatchProcessor`` with partial batch responses: a record whose processing raises
(``RetryableOcrError``, a database or S3 failure) is reported in ``batchItemFailures`` and
comes back after the visibility timeout, then goes to the dead-letter queue. Each record
reads its pages within the invocation's remaining time (``ocr_app.logic``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from claw_common.observability import logger, metrics, tracer
from ocr_app.logic import process_pages
from ocr_app.models import OcrPagesSqsRecord


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def handle_record(record: OcrPagesSqsRecord) -> None:
        process_pages(record.body, lambda: context.get_remaining_time_in_millis() / 1000)

    processor = BatchProcessor(event_type=EventType.SQS, model=OcrPagesSqsRecord)
    return dict(
        process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    )
