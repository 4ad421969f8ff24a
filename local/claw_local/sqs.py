"""The template's bucket, queues and notification on the emulated AWS endpoint, and the
SQS event source mapping that feeds the ingest function real SQS batch events."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from claw_local.lambda_runtime import LocalLambda
from claw_local.template import LOCAL_ACCOUNT_ID, LocalStack, SqsEventSpec

log = logging.getLogger("claw_local")


@dataclass
class QueueInfo:
    url: str
    arn: str
    visibility_timeout: int
    max_receive_count: int | None


def create_resources(
    stack: LocalStack, s3: Any, sqs: Any, visibility_timeout_override: int | None = None
) -> dict[str, QueueInfo]:
    """Create (idempotently) the queues, the bucket and its notification as in the template."""
    infos: dict[str, QueueInfo] = {}
    # Dead-letter queues first: the source queues' redrive policies point at them.
    ordered = sorted(stack.queues.values(), key=lambda q: q.dlq is not None)
    for spec in ordered:
        visibility = visibility_timeout_override or spec.visibility_timeout
        attributes = {
            "VisibilityTimeout": str(visibility),
            "MessageRetentionPeriod": str(spec.message_retention),
        }
        if spec.dlq and spec.max_receive_count:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": infos[spec.dlq].arn, "maxReceiveCount": spec.max_receive_count}
            )
        url = sqs.create_queue(QueueName=spec.name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        infos[spec.logical_id] = QueueInfo(url, arn, visibility, spec.max_receive_count)

    if stack.bucket_name:
        # Only when missing: in us-east-1 moto answers CreateBucket on an existing bucket with a
        # new, empty one, which would drop the objects restored from the saved state.
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if stack.bucket_name not in existing:
            try:
                s3.create_bucket(Bucket=stack.bucket_name)
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass
        if stack.bucket_versioned:
            s3.put_bucket_versioning(Bucket=stack.bucket_name, VersioningConfiguration={"Status": "Enabled"})
        queue_configs = []
        for n in stack.notifications:
            rules = []
            if n.prefix:
                rules.append({"Name": "prefix", "Value": n.prefix})
            if n.suffix:
                rules.append({"Name": "suffix", "Value": n.suffix})
            config: dict[str, Any] = {"QueueArn": infos[n.queue].arn, "Events": list(n.events)}
            if rules:
                config["Filter"] = {"Key": {"FilterRules": rules}}
            queue_configs.append(config)
        if queue_configs:
            s3.put_bucket_notification_configuration(
                Bucket=stack.bucket_name, NotificationConfiguration={"QueueConfigurations": queue_configs}
            )
    return infos


def sqs_batch_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source sends for a batch of received messages."""
    records = []
    for m in messages:
        attrs = m.get("Attributes") or {}
        records.append(
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attrs.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attrs.get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": attrs.get("SenderId", LOCAL_ACCOUNT_ID),
                    "ApproximateFirstReceiveTimestamp": attrs.get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                },
                "messageAttributes": {
                    k: {
                        "stringValue": v.get("StringValue"),
                        "binaryValue": v.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.get("DataType"),
                    }
                    for k, v in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class SqsEventSource(threading.Thread):
    """Polls a queue and invokes a function with SQS batches, like Lambda's event source mapping.

    Successful records are deleted; records listed in ``batchItemFailures`` (or the whole
    batch, if the function raised) stay and come back after the visibility timeout, until
    the queue's redrive policy moves them to the dead-letter queue.
    """

    def __init__(self, sqs: Any, queue: QueueInfo, spec: SqsEventSpec, function: LocalLambda, region: str) -> None:
        super().__init__(name=f"sqs-{spec.function}", daemon=True)
        self.sqs = sqs
        self.queue = queue
        self.spec = spec
        self.function = function
        self.region = region
        self._stop_event = threading.Event()
        self.batches = 0

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("SQS poller error")
                self._stop_event.wait(1.0)

    def poll_once(self) -> int:
        messages = self._receive()
        if not messages:
            return 0
        event = sqs_batch_event(messages, self.queue.arn, self.region)
        failed: set[str] = set()
        try:
            result = self.function.invoke(event)
            if self.spec.report_batch_item_failures and isinstance(result, dict):
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
        except Exception:
            log.exception("ingest function failed; the batch will be retried")
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for i in range(0, len(done), 10):
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[i : i + 10])]
            self.sqs.delete_message_batch(QueueUrl=self.queue.url, Entries=entries)
        self.batches += 1
        return len(messages)

    def _receive(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + max(0, self.spec.batching_window)
        while len(batch) < self.spec.batch_size and not self._stop_event.is_set():
            resp = self.sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=min(10, self.spec.batch_size - len(batch)),
                WaitTimeSeconds=0 if batch else 1,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = resp.get("Messages") or []
            batch.extend(got)
            if not got or time.monotonic() >= deadline:
                break
        return batch
