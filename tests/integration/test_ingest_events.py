"""The ingest handler invoked with the SQS events Lambda sends (tests/events)."""

from __future__ import annotations

import json
from typing import Any

from claw_local.lambda_runtime import LambdaContext
from tests.support.events import load_event


def _invoke(platform: Any, event: dict[str, Any]) -> dict[str, Any]:
    return platform.lambdas["IngestFunction"].invoke(event)


def test_object_created_is_recorded_once_with_the_key_url_decoded(platform: Any, db: Any, unique: str) -> None:
    event = load_event("sqs_s3_object_created.json")
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["eTag"] = unique
    event["Records"][0]["body"] = json.dumps(body)

    # When the same event is delivered twice
    assert _invoke(platform, event) == {"batchItemFailures": []}
    assert _invoke(platform, event) == {"batchItemFailures": []}

    # Then there is one record, with the decoded key and two deliveries
    rows = db.execute("SELECT * FROM ingest_objects WHERE etag = %s", (unique,)).fetchall()
    assert len(rows) == 1
    assert rows[0]["object_key"] == "kb/42/产品 手册 v1+2.pdf"
    assert rows[0]["deliveries"] == 2 and rows[0]["event_name"] == "ObjectCreated:Put"


def test_s3_test_event_is_skipped(platform: Any, db: Any) -> None:
    before = db.execute("SELECT count(*) AS n FROM ingest_objects").fetchone()["n"]
    assert _invoke(platform, load_event("sqs_s3_test_event.json")) == {"batchItemFailures": []}
    assert db.execute("SELECT count(*) AS n FROM ingest_objects").fetchone()["n"] == before


def test_a_malformed_record_fails_alone(platform: Any, db: Any, unique: str) -> None:
    good = load_event("sqs_s3_object_removed.json")["Records"][0]
    body = json.loads(good["body"])
    body["Records"][0]["s3"]["object"]["sequencer"] = unique
    body["Records"][0]["s3"]["object"]["versionId"] = unique
    good["body"] = json.dumps(body)
    bad = {**good, "messageId": "poison-1", "body": "this is not an S3 event"}

    result = _invoke(platform, {"Records": [bad, good]})

    assert result == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    row = db.execute("SELECT * FROM ingest_objects WHERE version_id = %s", (unique,)).fetchone()
    assert row is not None and row["event_name"] == "ObjectRemoved:Delete"


def test_lambda_context_reports_remaining_time() -> None:
    ctx = LambdaContext("fn", 128, "arn:aws:lambda:us-east-1:123456789012:function:fn", "id", timeout_s=3)
    assert 2000 < ctx.get_remaining_time_in_millis() <= 3000


class _ClockedContext:
    """A Lambda context whose remaining time follows a script (no waiting in tests)."""

    function_name = "claw-ai-test-ingest"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:claw-ai-test-ingest"
    aws_request_id = "ingest-time-test"
    log_stream_name = "test"

    def __init__(self, remaining_ms: list[int]) -> None:
        self._remaining = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining.pop(0) if len(self._remaining) > 1 else self._remaining[0]


def test_records_left_when_time_runs_short_go_back_to_the_queue(platform: Any) -> None:
    from ingest_app.handler import lambda_handler

    # Given a batch of three, and an invocation that has 120 s at the start
    template = load_event("sqs_s3_test_event.json")["Records"][0]
    records = [{**template, "messageId": f"m{i}"} for i in range(3)]
    # When the first record starts with plenty left and the second finds only 20 s
    context = _ClockedContext([120_000, 100_000, 20_000])
    result = lambda_handler({"Records": records}, context)
    # Then the first is done and the other two are reported for redelivery, not started
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
