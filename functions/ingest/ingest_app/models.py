"""Parser models of what reaches the ingest function: SQS records whose body is an S3
event notification (or S3's one-off ``s3:TestEvent``), ``OcrCompleted`` from the OCR function,
or ``VectorIndexDue``, which ingest sends itself."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import unquote_plus
from uuid import UUID

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from pydantic import BaseModel, Field

from claw_common.ocr_messages import OcrCompleted


class S3BucketRef(BaseModel):
    name: str


class S3ObjectRef(BaseModel):
    key: str = Field(description="Object key, URL-encoded as S3 sends it.")
    size: int | None = None
    eTag: str | None = None
    versionId: str | None = None
    sequencer: str | None = None

    @property
    def decoded_key(self) -> str:
        # S3 event keys are form-encoded: spaces arrive as '+', a real '+' as '%2B'.
        return unquote_plus(self.key)


class S3Entity(BaseModel):
    bucket: S3BucketRef
    object: S3ObjectRef


class S3EventRecord(BaseModel):
    eventSource: str = "aws:s3"
    eventName: str = Field(description="e.g. ObjectCreated:Put, ObjectRemoved:Delete")
    eventTime: datetime | None = None
    s3: S3Entity


class S3EventNotification(BaseModel):
    Records: list[S3EventRecord] = Field(min_length=1)


class S3TestEvent(BaseModel):
    """Sent once by S3 when a notification is configured; carries no object."""

    Event: str = Field(pattern=r"^s3:TestEvent$")
    Bucket: str | None = None


class VectorIndexDue(BaseModel):
    """Ingest to itself, delayed by ``VECTOR_INDEX_QUIET_S``: build this knowledge base's vector
    index if no document came in meanwhile (``ingest_app.vector_upkeep``)."""

    kind: Literal["vector_index_due"] = "vector_index_due"
    kb_id: UUID


class S3NotificationSqsRecord(SqsRecordModel):
    """An SQS record whose body is an S3 notification, the OCR function's "all pages read", or
    ingest's own "build the vector index once loading settles"."""

    body: Json[S3EventNotification | S3TestEvent | OcrCompleted | VectorIndexDue]  # type: ignore[assignment]
