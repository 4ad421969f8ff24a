"""What the knowledge API's logic modules share: ids, not-found errors, pages, S3, ownership checks.

Ownership: every read and write is scoped to the caller; another user's knowledge base or
document answers 404 exactly like a missing one (a malformed id too).
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from datetime import datetime
from typing import Any

from claw_common.auth.caller import Caller
from claw_common.documents import MB, SUPPORTED_EXTENSIONS, TIER_MAX_BYTES
from claw_common.errors import DependencyUnavailable, NotFound, UnsupportedMediaType
from claw_common.http.pagination import TimeIdPosition, decode_cursor, encode_cursor
from claw_common.observability import logger
from claw_common.settings import get_settings
from knowledge_app.models import Document
from knowledge_app.repository import KnowledgeRepository

MAX_UPLOAD_BYTES = 4 * MB
"""Largest multipart upload through the API. API Gateway base64-encodes binary bodies (+33 %)
and a synchronous Lambda invocation carries at most 6 MB, so about 4.4 MB of file is the real
ceiling; 4 MB leaves room for the multipart framing. Larger files use the presigned URL."""
MAX_TEXT_BYTES = 4 * MB
UPLOAD_URL_EXPIRES_S = 900
# A pending document with no object this long after its upload grant was issued was never uploaded.
UPLOAD_GRANT_EXPIRED_S = UPLOAD_URL_EXPIRES_S + 60

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


# --------------------------------------------------------------------------- helpers


def kb_not_found() -> NotFound:
    return NotFound("Knowledge base not found.")


def doc_not_found() -> NotFound:
    return NotFound("Document not found.")


def uuid_or_404(value: str, missing: NotFound) -> str:
    # A malformed id is as unknown as a missing one (and must not reach a uuid cast in SQL).
    if not _UUID.match(value or ""):
        raise missing
    return value.lower()


def keyset_after(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    position = decode_cursor(cursor, TimeIdPosition)
    return position.at, str(position.id)


def page_of(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    items = rows[:limit]
    more = len(rows) > limit
    cursor = encode_cursor({"at": items[-1]["created_at"].isoformat(), "id": items[-1]["id"]}) if more else None
    return items, cursor


def safe_filename(name: str) -> str:
    """A file name fit for an S3 key segment: no path, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip().strip(".") or "file"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:200]
    return name


def extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def require_supported(filename: str) -> None:
    ext = extension(filename)
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedMediaType(
            f"Files of type '.{ext}' cannot be ingested. Supported: " + ", ".join(sorted(SUPPORTED_EXTENSIONS)) + "."
            if ext
            else "The file name needs an extension (.pdf, .docx, .xlsx, .csv, .html, .md, .txt, .json, "
            ".png, .jpg or .webp)."
        )


def content_type_for(filename: str, given: str | None) -> str:
    if given and given.strip() and given.split(";")[0].strip() != "application/octet-stream":
        return given.strip()
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def tier_max_bytes(tier: str) -> int:
    """Largest file a tier may ingest: config ``ingest.limits[tier].max_bytes`` or the default."""
    default = TIER_MAX_BYTES.get(tier, TIER_MAX_BYTES["free"])
    try:
        from claw_common.config.reader import get_config

        config = get_config("ingest.limits")
    except Exception:  # noqa: BLE001 - config unreadable: the defaults apply (ingest checks again)
        return default
    override = (config or {}).get(tier) if isinstance(config, dict) else None
    value = override.get("max_bytes") if isinstance(override, dict) else None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def documents_bucket() -> str:
    bucket = get_settings().documents_bucket
    if not bucket:
        raise DependencyUnavailable("Document storage is not configured.")
    return bucket


def s3_client() -> Any:
    from claw_common.aws import aws_client

    return aws_client("s3")


def s3_call(what: str, call: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("S3 call failed", extra={"operation": what, "error": type(exc).__name__})
        raise DependencyUnavailable("Document storage is unavailable; try again shortly.") from exc


def delete_all_versions(bucket: str, *, key: str | None = None, prefix: str | None = None) -> int:
    """Delete every version and delete marker of one key (or of every key under a prefix)."""
    s3 = s3_client()
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    pages = s3_call(
        "list_object_versions", lambda **kw: list(paginator.paginate(**kw)), Bucket=bucket, Prefix=key or prefix
    )
    for page in pages:
        entries = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])
            if key is None or v["Key"] == key
        ]
        for start in range(0, len(entries), 1000):
            batch = entries[start : start + 1000]
            s3_call("delete_objects", s3.delete_objects, Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
    return deleted


def document_out(row: dict[str, Any]) -> Document:
    """A document row as the API shows it (no storage internals)."""
    return Document.model_validate({k: v for k, v in row.items() if k not in ("s3_bucket", "s3_key", "error_code")})


def owned_kb(conn: Any, caller: Caller, kb_id: str) -> dict[str, Any]:
    kb = KnowledgeRepository(conn).get_kb(caller.user_id, kb_id)
    if kb is None:
        raise kb_not_found()
    return kb


def owned_document(conn: Any, caller: Caller, kb_id: str, document_id: str) -> dict[str, Any]:
    document = KnowledgeRepository(conn).get_document(caller.user_id, kb_id, document_id)
    if document is None:
        raise doc_not_found()
    return document
