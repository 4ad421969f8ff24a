"""S3 -> SQS -> ingest, as configured by the template, through the emulated endpoint."""

from __future__ import annotations

from typing import Any

from tests.conftest import wait_for


def test_an_object_put_in_the_bucket_reaches_the_ingest_function(platform: Any, s3: Any, db: Any, unique: str) -> None:
    key = f"kb/{unique}/年度 报告 Q1+Q2 100%.txt"
    s3.put_object(Bucket=platform.stack.bucket_name, Key=key, Body="你好, world".encode())

    row = wait_for(
        lambda: db.execute("SELECT * FROM ingest_objects WHERE object_key = %s", (key,)).fetchone(), timeout=20
    )
    assert row["event_name"].startswith("ObjectCreated:")
    assert row["bucket"] == platform.stack.bucket_name


def test_objects_outside_the_kb_prefix_are_not_sent(platform: Any, s3: Any, db: Any, unique: str) -> None:
    s3.put_object(Bucket=platform.stack.bucket_name, Key=f"other/{unique}.txt", Body=b"x")
    marker = f"kb/{unique}/after.txt"
    s3.put_object(Bucket=platform.stack.bucket_name, Key=marker, Body=b"y")
    wait_for(lambda: db.execute("SELECT 1 FROM ingest_objects WHERE object_key = %s", (marker,)).fetchone())
    assert db.execute("SELECT 1 FROM ingest_objects WHERE object_key = %s", (f"other/{unique}.txt",)).fetchone() is None


def test_a_poison_message_reaches_the_dlq_after_max_receive_count_while_others_succeed(
    platform: Any, s3: Any, sqs: Any, db: Any, unique: str
) -> None:
    queue = next(q for q in platform.queues.values() if q.max_receive_count)
    dlq_url = next(platform.queues[s.dlq].url for s in platform.stack.queues.values() if s.dlq)
    poison = f"poison-{unique}"

    # Given a malformed message and a good object event in the same stream
    sqs.send_message(QueueUrl=queue.url, MessageBody=poison)
    key = f"kb/{unique}/good.md"
    s3.put_object(Bucket=platform.stack.bucket_name, Key=key, Body=b"# ok")

    # Then the good one is recorded
    wait_for(lambda: db.execute("SELECT 1 FROM ingest_objects WHERE object_key = %s", (key,)).fetchone())

    # And the poison ends in the DLQ after maxReceiveCount receives, with nothing lost
    def poison_in_dlq() -> dict[str, Any] | None:
        resp = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
        )
        for m in resp.get("Messages") or []:
            if m["Body"] == poison:
                return m
        return None

    message = wait_for(poison_in_dlq, timeout=30, interval=0.2)
    assert int(message["Attributes"]["ApproximateReceiveCount"]) >= queue.max_receive_count
