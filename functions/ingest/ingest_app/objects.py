"""The S3 side of ingest: HEAD and GET of the object an event names, with retryable failures."""

from __future__ import annotations

from typing import Any


class RetryableIngestError(Exception):
    """A temporary failure: the SQS record must fail so that it is delivered again."""


def head_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HEAD of the current object version; None when it no longer exists."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if status == 404 or code in ("404", "NoSuchKey", "NotFound"):
            return None
        raise RetryableIngestError(f"S3 HEAD failed ({code or status})") from exc
    except BotoCoreError as exc:
        raise RetryableIngestError(f"S3 HEAD failed ({type(exc).__name__})") from exc
    version = head.get("VersionId")
    return {
        "version_id": None if version in (None, "", "null") else version,
        "etag": str(head.get("ETag") or "").strip('"') or None,
        "size": int(head.get("ContentLength") or 0),
        "content_type": head.get("ContentType"),
        "metadata": head.get("Metadata") or {},
    }


def download(s3: Any, bucket: str, key: str, version_id: str | None, max_bytes: int) -> bytes:
    """The object's bytes (that exact version); never reads more than ``max_bytes`` + 1."""
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        body = s3.get_object(**kwargs)["Body"]
        try:
            return body.read(max_bytes + 1)
        finally:
            body.close()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        raise RetryableIngestError(f"S3 GET failed ({code})") from exc
    except BotoCoreError as exc:
        raise RetryableIngestError(f"S3 GET failed ({type(exc).__name__})") from exc
