"""OCR of one page range: read what is not stored yet, within the time left, then hand back.

Each page is committed as soon as it is read, so a crash, a timeout or a redelivery never
reads a page twice. When the Lambda's remaining time drops below the margin, the pages not
read yet go back to the OCR queue as a new message (a fresh invocation has its full time).
After every range the function checks whether the document's last page is in; if so it
sends ``OcrCompleted`` to the ingest queue, which assembles the chunks (two ranges finishing
together may both send it: ingest ignores the second).

Failures: a page the engine cannot read (corrupt, too large) is stored with its reason and
empty text; the vision service being unavailable, S3 or the database failing raise, and
SQS delivers the message again (then the dead-letter queue). Before raising, the document
shows the temporary failure (``failed`` with code ``temporary`` and the reason), so a range
that ends in the dead-letter queue never leaves it ``processing`` for ever; the next page
stored puts it back to ``processing``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from claw_common.data import db
from claw_common.observability import MetricUnit, logger, metrics, tracer
from claw_common.ocr_messages import OcrCompleted, OcrPagesRequest
from ocr_app.engines import OcrEngine, OcrError, iter_ocr_pdf_pages, ocr_image_bytes
from ocr_app.repository import PageRepository


class RetryableOcrError(Exception):
    """A temporary failure: the SQS record must fail so that it is delivered again."""


@dataclass(frozen=True)
class OcrDeps:
    """The adapters the OCR function uses, injected so tests can pass their own."""

    s3: Any
    sqs: Any
    engine: Callable[[], OcrEngine]
    ocr_queue_url: str | None
    ingest_queue_url: str | None
    time_margin_s: float = 30.0


@lru_cache(maxsize=1)
def get_ocr_deps() -> OcrDeps:
    """The process's adapters: S3 and SQS clients, the configured engine, both queues."""
    from claw_common.aws import aws_client
    from claw_common.settings import get_settings
    from ocr_app.engine_choice import current_engine

    settings = get_settings()
    return OcrDeps(
        s3=aws_client("s3"),
        sqs=aws_client("sqs"),
        engine=current_engine,
        ocr_queue_url=settings.ocr_queue_url,
        ingest_queue_url=settings.ingest_queue_url,
        time_margin_s=settings.ocr_time_margin_s,
    )


@dataclass(frozen=True, slots=True)
class OcrOutcome:
    """What happened to one page range (logged, and asserted by tests)."""

    action: str  # read | skipped
    pages_read: int = 0
    pages_left: list[int] = field(default_factory=list)
    completed: bool = False
    reason: str = ""


@tracer.capture_method(capture_response=False)
def process_pages(
    request: OcrPagesRequest, remaining_s: Callable[[], float], deps: OcrDeps | None = None
) -> OcrOutcome:
    """OCR the range's pages not stored yet; queue what time does not allow; report completion."""
    deps = deps or get_ocr_deps()
    try:
        return _process(request, remaining_s, deps)
    except Exception as exc:
        _mark_interrupted_best_effort(request, str(exc) if isinstance(exc, RetryableOcrError) else type(exc).__name__)
        raise


def _process(request: OcrPagesRequest, remaining_s: Callable[[], float], deps: OcrDeps) -> OcrOutcome:
    with db.connection() as conn:
        pages = PageRepository(conn)
        state = pages.state(request.document_id)
        if state is None or state.ocr_source != request.source_version:
            conn.rollback()
            return OcrOutcome("skipped", reason="the document was deleted or a newer version superseded these pages")
        todo = [p for p in request.pages if p not in pages.pages_done(request.document_id, request.source_version)]
        conn.rollback()
        read = 0
        if todo:
            data = _download(deps.s3, request)
            if data is None:
                return OcrOutcome("skipped", reason="the object version is gone")
            engine = deps.engine()
            for number in todo:
                if remaining_s() < deps.time_margin_s:
                    break
                _read_page(pages, request, data, number, engine)
                conn.commit()
                read += 1
        left = todo[read:]
        if left:
            _send(deps.sqs, deps.ocr_queue_url, request.model_copy(update={"pages": left}).model_dump_json())
            metrics.add_metric(name="OcrRangesContinued", unit=MetricUnit.Count, value=1)
        completed = len(pages.pages_done(request.document_id, request.source_version)) >= state.ocr_pages_total
        conn.rollback()
    if completed:
        done = OcrCompleted(
            document_id=request.document_id,
            bucket=request.bucket,
            key=request.key,
            source_version=request.source_version,
        )
        _send(deps.sqs, deps.ingest_queue_url, done.model_dump_json())
    logger.info(
        "page range read",
        extra={"document_id": request.document_id, "pages_read": read, "pages_left": len(left), "completed": completed},
    )
    return OcrOutcome("read", read, left, completed)


def _mark_interrupted_best_effort(request: OcrPagesRequest, cause: str) -> None:
    reason = f"OCR was interrupted by a temporary error ({cause}); it is retried automatically"
    try:
        with db.connection() as conn:
            PageRepository(conn).mark_interrupted(request.document_id, request.source_version, reason)
            conn.commit()
    except Exception:  # noqa: BLE001 - best effort: the database itself may be what failed
        # The database itself is down: the redelivery (or the dead-letter queue) keeps the range.
        logger.warning("could not record the interruption on the document", extra={"document_id": request.document_id})


def _read_page(pages: PageRepository, request: OcrPagesRequest, data: bytes, number: int, engine: OcrEngine) -> None:
    try:
        if request.file_type == "image":
            result = ocr_image_bytes(data, None, engine=engine)
            text, confidence, seconds = result.text, result.confidence, result.seconds
        else:
            page = next(iter(iter_ocr_pdf_pages(data, [number], engine=engine)))
            text, confidence, seconds = page.text, page.confidence, page.seconds
    except OcrError as exc:
        if exc.code == "unavailable":
            raise RetryableOcrError(exc.reason) from exc
        logger.warning("page could not be read", extra={"document_id": request.document_id, "page": number})
        pages.save_page(
            request.document_id, request.source_version, number, text="", engine=engine.name, error=exc.reason
        )
        return
    except ValueError as exc:  # a page outside the document: nothing to read there
        pages.save_page(
            request.document_id, request.source_version, number, text="", engine=engine.name, error=str(exc)
        )
        return
    pages.save_page(
        request.document_id,
        request.source_version,
        number,
        text=text,
        engine=engine.name,
        confidence=confidence,
        seconds=round(seconds, 3),
    )
    metrics.add_metric(name="OcrPagesRead", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="OcrPageSeconds", unit=MetricUnit.Seconds, value=seconds)


def _download(s3: Any, request: OcrPagesRequest) -> bytes | None:
    """The object version's bytes; None when it is gone (or, unversioned, replaced)."""
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {"Bucket": request.bucket, "Key": request.key}
    if request.version_id:
        kwargs["VersionId"] = request.version_id
    try:
        response = s3.get_object(**kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "NoSuchVersion", "404"):
            return None
        raise RetryableOcrError(f"S3 GET failed ({code})") from exc
    except BotoCoreError as exc:
        raise RetryableOcrError(f"S3 GET failed ({type(exc).__name__})") from exc
    if not request.version_id and str(response.get("ETag") or "").strip('"') != (request.etag or ""):
        response["Body"].close()
        return None
    with response["Body"] as body:
        return bytes(body.read())


def _send(sqs: Any, queue_url: str | None, body: str) -> None:
    if not queue_url:
        raise RetryableOcrError("the queue to hand the pages on to is not configured")
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
