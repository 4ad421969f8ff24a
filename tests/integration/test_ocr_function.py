"""The OCR function against real Postgres, S3 and SQS: page ranges within the time left, every
page stored once, completion handed to ingest once the last page is in, old versions skipped.

The function's queues here are private test queues (the platform's pollers do not read them),
so the messages it sends can be inspected.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from claw_common.ocr_messages import OcrCompleted, OcrPagesRequest
from ocr_app.engines import default_engine
from ocr_app.logic import OcrDeps, process_pages
from tests.auth_helpers import new_user
from tests.knowledge_helpers import create_kb
from tests.ocr_helpers import image_only_pdf, render_page
from tests.support.events import load_event
from tests.support.lambda_context import lambda_context

PAGES = [
    [f"第{n}页 Page {n}", f"保修卡编号 WC-{n:04d} 请妥善保管。", f"Warranty card WC-{n:04d}, keep it safe."]
    for n in (1, 2, 3)
]


@pytest.fixture()
def scanned(platform: Any, api: Any, db: Any, s3: Any, sqs: Any, unique: str) -> Iterator[dict[str, Any]]:
    """A 3-page scan outside kb/ (no event fires), its document waiting for OCR, and two private queues."""
    user = new_user(api)
    kb = create_kb(api, user, "ocr function")
    bucket = platform.stack.bucket_name
    key = f"ocr-tests/{unique}/scan.pdf"
    put = s3.put_object(Bucket=bucket, Key=key, Body=image_only_pdf([render_page(p, size=(1240, 500)) for p in PAGES]))
    version = put["VersionId"]
    document_id = str(uuid.uuid4())
    db.execute(
        """INSERT INTO documents (id, kb_id, owner_id, title, filename, s3_bucket, s3_key, status,
                                  ocr_source, ocr_pages_total)
           VALUES (%s, %s, %s, 'scan', 'scan.pdf', %s, %s, 'processing', %s, 3)""",
        (document_id, kb, user.id, bucket, key, version),
    )
    queues = {name: sqs.create_queue(QueueName=f"test-{name}-{unique}")["QueueUrl"] for name in ("ocr", "ingest")}
    request = OcrPagesRequest(
        document_id=document_id,
        bucket=bucket,
        key=key,
        version_id=version,
        etag=put["ETag"].strip('"'),
        source_version=version,
        file_type="pdf",
        pages=[1, 2, 3],
    )
    deps = OcrDeps(
        s3=s3,
        sqs=sqs,
        engine=default_engine,
        ocr_queue_url=queues["ocr"],
        ingest_queue_url=queues["ingest"],
        time_margin_s=30,
    )
    yield {"request": request, "deps": deps, "queues": queues, "document_id": document_id}
    for url in queues.values():
        sqs.delete_queue(QueueUrl=url)


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages") or []
    for m in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def _stored(db: Any, document_id: str) -> dict[int, str]:
    rows = db.execute("SELECT page, text FROM document_pages WHERE document_id = %s", (document_id,)).fetchall()
    return {r["page"]: r["text"] for r in rows}


def test_a_range_that_runs_out_of_time_queues_the_rest_and_the_last_page_hands_back_to_ingest(
    db: Any, sqs: Any, scanned: dict[str, Any]
) -> None:
    request, deps, queues, document_id = (scanned[k] for k in ("request", "deps", "queues", "document_id"))
    # Given time for one page only (the second check finds less than the 30 s margin left)
    clock = iter([120.0, 10.0])

    # When the range is processed
    first = process_pages(request, lambda: next(clock), deps)

    # Then page 1 is stored, pages 2-3 go back to the OCR queue, and ingest is not told yet
    assert (first.pages_read, first.pages_left, first.completed) == (1, [2, 3], False)
    assert "WC-0001" in _stored(db, document_id)[1].replace(" ", "")
    (continued,) = _drain(sqs, queues["ocr"])
    assert continued["pages"] == [2, 3] and continued["source_version"] == request.source_version
    assert _drain(sqs, queues["ingest"]) == []
    progress = db.execute("SELECT ocr_pages_done FROM documents WHERE id = %s", (document_id,)).fetchone()
    assert progress["ocr_pages_done"] == 1

    # When the continuation runs with its full time
    second = process_pages(OcrPagesRequest.model_validate(continued), lambda: 300.0, deps)

    # Then every page is in, and ingest is told to assemble that version
    assert (second.pages_read, second.completed) == (2, True)
    assert sorted(_stored(db, document_id)) == [1, 2, 3]
    (done,) = _drain(sqs, queues["ingest"])
    assert OcrCompleted.model_validate(done).source_version == request.source_version

    # And a redelivery of the first message reads nothing twice
    again = process_pages(request, lambda: 300.0, deps)
    assert again.pages_read == 0 and again.completed
    count = db.execute("SELECT count(*) AS n FROM document_pages WHERE document_id = %s", (document_id,)).fetchone()
    assert count["n"] == 3


def test_pages_of_a_superseded_version_are_skipped(db: Any, scanned: dict[str, Any]) -> None:
    request, deps, document_id = scanned["request"], scanned["deps"], scanned["document_id"]
    # Given a newer upload whose OCR has started in the meantime
    db.execute("UPDATE documents SET ocr_source = 'a-newer-version' WHERE id = %s", (document_id,))

    outcome = process_pages(request, lambda: 300.0, deps)

    assert outcome.action == "skipped" and _stored(db, document_id) == {}


def test_a_temporary_failure_shows_on_the_document_and_the_redelivery_resumes_it(
    db: Any, scanned: dict[str, Any]
) -> None:
    from ocr_app.logic import RetryableOcrError

    request, deps, document_id = scanned["request"], scanned["deps"], scanned["document_id"]
    # Given S3 answering with an error (a bucket that does not exist) on the first delivery
    broken = request.model_copy(update={"bucket": f"missing-{uuid.uuid4().hex[:12]}"})

    with pytest.raises(RetryableOcrError):
        process_pages(broken, lambda: 300.0, deps)

    # Then the document says so, instead of staying "processing" if the range ends in the DLQ
    row = db.execute("SELECT status, error, error_code FROM documents WHERE id = %s", (document_id,)).fetchone()
    assert (row["status"], row["error_code"]) == ("failed", "temporary")
    assert "retried automatically" in row["error"] and "S3 GET failed" in row["error"]

    # When the redelivery finds S3 back, the pages are read and the document is processing again
    outcome = process_pages(request, lambda: 300.0, deps)
    assert outcome.pages_read == 3
    row = db.execute("SELECT status, error, error_code FROM documents WHERE id = %s", (document_id,)).fetchone()
    assert (row["status"], row["error"], row["error_code"]) == ("processing", None, None)


def test_the_handler_takes_sqs_batches_and_a_bad_record_fails_alone(platform: Any) -> None:
    from ocr_app.handler import lambda_handler

    # Given the canonical event (a document that does not exist) and a record that is not a page range
    event = load_event("sqs_ocr_pages.json")
    bad = dict(event["Records"][0], messageId="bad-record", body='{"pages": "all of them"}')
    event["Records"].append(bad)

    result = lambda_handler(event, lambda_context("ocr", timeout_s=300, memory_mb=2048))

    # Then only the malformed record is reported for redelivery (the unknown document is skipped)
    assert result["batchItemFailures"] == [{"itemIdentifier": "bad-record"}]
