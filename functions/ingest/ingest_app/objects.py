"""The S3 side of ingest: HEAD and GET of the object an event names, with retryable failures."""

from __future__ import annotations

from typing import Any


class RetryableIngestError(Exception):
    """A temporary failure: the SQS record must fail so that it is delivered again."""


def _code(exc: Any) -> str:
    """A ClientError's S3 error code, else its HTTP status."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _missing(exc: Any) -> bool:
    """True when a ClientError says the object does not exist."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or _code(exc) in ("404", "NoSuchKey", "NotFound")


def head_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HEAD of the current object version; None when it no longer exists."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _missing(exc):
            return None
        raise RetryableIngestError(f"S3 HEAD failed ({_code(exc)})") from exc
    except BotoCoreError as exc:
        raise RetryableIngestError(f"S3 HEAD failed ({type(exc).__name__})") from exc
    return _head_of(head)


def _head_of(response: dict[str, Any]) -> dict[str, Any]:
    """The object's identity and size as ``head_object`` returns it, from a HEAD or GET response."""
    version = response.get("VersionId")
    return {
        "version_id": None if version in (None, "", "null") else version,
        "etag": str(response.get("ETag") or "").strip('"') or None,
        "size": int(response.get("ContentLength") or 0),
        "content_type": response.get("ContentType"),
        "metadata": response.get("Metadata") or {},
    }


def fetch_object(s3: Any, bucket: str, key: str, max_bytes: int) -> tuple[dict[str, Any] | None, bytes | None]:
    """HEAD and bytes of the current object version in one GET: ``(head, data)``.

    The size is checked on the response headers before the body is read: an object larger
    than ``max_bytes`` gives ``(head, None)`` and not a byte of its body. ``(None, None)`` when
    the object no longer exists. The head and the bytes are of one version by construction
    (a HEAD then a GET by version id is the same thing in two requests).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _missing(exc):
            return None, None
        raise RetryableIngestError(f"S3 GET failed ({_code(exc)})") from exc
    except BotoCoreError as exc:
        raise RetryableIngestError(f"S3 GET failed ({type(exc).__name__})") from exc
    head = _head_of(response)
    body = response["Body"]
    try:
        if head["size"] > max_bytes:
            return head, None
        data = body.read(max_bytes + 1)
    except BotoCoreError as exc:
        raise RetryableIngestError(f"S3 GET failed ({type(exc).__name__})") from exc
    finally:
        body.close()
    return head, data


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
