"""Parser model of what reaches the OCR function: SQS records whose body is a page range."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json

from claw_common.ocr_messages import OcrPagesRequest


class OcrPagesSqsRecord(SqsRecordModel):
    """An SQS record whose body is ``OcrPagesRequest`` (sent by ingest, or by this function to continue)."""

    body: Json[OcrPagesRequest]  # type: ignore[assignment]
