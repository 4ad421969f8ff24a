"""Knowledge bases and documents: every way in ends as an S3 object that the ingest function reads.

* ``POST …/documents`` (text) and ``…/documents/upload`` (multipart) write the object here;
* ``…/documents/upload-url`` hands out a presigned S3 POST for the client to upload itself;
* files dropped straight into ``s3://<bucket>/kb/<kb_id>/…`` need no API call at all.

In every case the object's S3 event reaches the ingest function through SQS, which parses,
chunks, embeds and stores it, and moves the document from ``pending`` to ``ready`` or
``failed``. The API creates the document row *before* the object exists, so ingest always
finds it by key.

Ownership: every read and write is scoped to the caller; another user's knowledge base or
document answers 404 exactly like a missing one (a malformed id too).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Any

from claw_ai.retrieval.retriever import get_retriever, snippet_of, source_of
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.data.invalidation import conversations_changed
from claw_common.errors import (
    Conflict,
    DependencyUnavailable,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from claw_common.http.pagination import ChunkPosition, TimeIdPosition, decode_cursor, encode_cursor
from claw_common.observability import MetricUnit, logger, metrics
from claw_common.settings import get_settings
from knowledge_app.models import (
    KnowledgeBaseCreate,
    KnowledgeBaseUpdate,
    QueryRequest,
    TextDocumentCreate,
    UploadUrlRequest,
)
from knowledge_app.repository import KnowledgeRepository

MB = 1024 * 1024
MAX_UPLOAD_BYTES = 4 * MB
"""Largest multipart upload through the API. API Gateway base64-encodes binary bodies (+33 %)
and a synchronous Lambda invocation carries at most 6 MB, so about 4.4 MB of file is the real
ceiling; 4 MB leaves room for the multipart framing. Larger files use the presigned URL."""
MAX_TEXT_BYTES = 4 * MB
UPLOAD_URL_EXPIRES_S = 900
# A pending document with no object this long after its upload grant was issued was never uploaded.
UPLOAD_GRANT_EXPIRED_S = UPLOAD_URL_EXPIRES_S + 60
TIER_MAX_BYTES = {"free": 10 * MB, "pro": 50 * MB, "enterprise": 200 * MB}
"""Largest file per tier; mirrors ``ingest_app.parsers`` (a unit test keeps them equal). The
ingest function enforces it again from the object's HEAD, and config ``ingest.limits``
overrides both."""
SUPPORTED_EXTENSIONS = frozenset(
    {"pdf", "docx", "xlsx", "xlsm", "csv", "tsv", "html", "htm", "xhtml", "md", "markdown", "txt", "text", "json"}
)
KB_PREFIX = "kb/"

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\]+")


# --------------------------------------------------------------------------- helpers


def _kb_not_found() -> NotFound:
    return NotFound("Knowledge base not found.")


def _doc_not_found() -> NotFound:
    return NotFound("Document not found.")


def _uuid_or_404(value: str, missing: NotFound) -> str:
    # A malformed id is as unknown as a missing one (and must not reach a uuid cast in SQL).
    if not _UUID.match(value or ""):
        raise missing
    return value.lower()


def _keyset_after(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    position = decode_cursor(cursor, TimeIdPosition)
    return position.at, str(position.id)


def _page(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
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


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _require_supported(filename: str) -> None:
    ext = _extension(filename)
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedMediaType(
            f"Files of type '.{ext}' cannot be ingested. Supported: " + ", ".join(sorted(SUPPORTED_EXTENSIONS)) + "."
            if ext
            else "The file name needs an extension (.pdf, .docx, .xlsx, .csv, .html, .md, .txt or .json)."
        )


def _content_type(filename: str, given: str | None) -> str:
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


def _bucket() -> str:
    bucket = get_settings().documents_bucket
    if not bucket:
        raise DependencyUnavailable("Document storage is not configured.")
    return bucket


def _s3() -> Any:
    from claw_common.aws import aws_client

    return aws_client("s3")


def _s3_call(what: str, call: Any, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("S3 call failed", extra={"operation": what, "error": type(exc).__name__})
        raise DependencyUnavailable("Document storage is unavailable; try again shortly.") from exc


def _delete_all_versions(bucket: str, *, key: str | None = None, prefix: str | None = None) -> int:
    """Delete every version and delete marker of one key (or of every key under a prefix)."""
    s3 = _s3()
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    pages = _s3_call(
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
            _s3_call("delete_objects", s3.delete_objects, Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
    return deleted


def document_out(row: dict[str, Any]) -> dict[str, Any]:
    """A document row as the API shows it (no storage internals)."""
    return {k: v for k, v in row.items() if k not in ("s3_bucket", "s3_key", "error_code")}


# --------------------------------------------------------------------------- knowledge bases


def create_knowledge_base(caller: Caller, body: KnowledgeBaseCreate) -> dict[str, Any]:
    """Create a knowledge base of the caller."""
    with db.connection() as conn:
        return KnowledgeRepository(conn).create_kb(caller.user_id, body.name, body.description)


def list_knowledge_bases(caller: Caller, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """The caller's knowledge bases, newest first, ``limit`` per page."""
    after = _keyset_after(cursor)
    with db.connection() as conn:
        rows = KnowledgeRepository(conn).list_kbs(caller.user_id, limit=limit + 1, after=after)
    items, next_cursor = _page(rows, limit)
    return {"items": items, "next_cursor": next_cursor}


def get_knowledge_base(caller: Caller, kb_id: str) -> dict[str, Any]:
    """One of the caller's knowledge bases (404 otherwise)."""
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    with db.connection() as conn:
        kb = KnowledgeRepository(conn).get_kb(caller.user_id, kb_id)
    if kb is None:
        raise _kb_not_found()
    return kb


def update_knowledge_base(caller: Caller, kb_id: str, body: KnowledgeBaseUpdate) -> dict[str, Any]:
    """Rename or re-describe a knowledge base."""
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    changes = body.model_dump(exclude_unset=True)
    if changes.get("description") is None:
        changes.pop("description", None)
    if changes.get("name") is None:
        changes.pop("name", None)
    with db.connection() as conn:
        kb = KnowledgeRepository(conn).update_kb(caller.user_id, kb_id, changes)
    if kb is None:
        raise _kb_not_found()
    return kb


def delete_knowledge_base(caller: Caller, kb_id: str) -> None:
    """Delete a knowledge base: its files in S3 (every version), then its documents and chunks."""
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    with db.connection() as conn:
        if KnowledgeRepository(conn).get_kb(caller.user_id, kb_id) is None:
            raise _kb_not_found()
    # Objects first: if S3 fails nothing is deleted and the client can retry. Their
    # ObjectRemoved events find no document left and change nothing.
    removed = _delete_all_versions(_bucket(), prefix=f"{KB_PREFIX}{kb_id}/")
    with db.connection() as conn:
        KnowledgeRepository(conn).delete_kb(caller.user_id, kb_id)
    # Conversations that used it now have no knowledge base (ON DELETE SET NULL).
    conversations_changed(caller.user_id)
    logger.info("knowledge base deleted", extra={"kb_id": kb_id, "objects_removed": removed})


def _owned_kb(conn: Any, caller: Caller, kb_id: str) -> dict[str, Any]:
    kb = KnowledgeRepository(conn).get_kb(caller.user_id, kb_id)
    if kb is None:
        raise _kb_not_found()
    return kb


# --------------------------------------------------------------------------- documents in


def _new_document(
    caller: Caller, kb_id: str, *, title: str, filename: str, content_type: str | None, size: int | None
) -> dict[str, Any]:
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    document_id = str(uuid.uuid4())
    filename = safe_filename(filename)
    key = f"{KB_PREFIX}{kb_id}/{document_id}/{filename}"
    with db.connection() as conn:
        _owned_kb(conn, caller, kb_id)
        return KnowledgeRepository(conn).create_document(
            document_id=document_id,
            owner_id=caller.user_id,
            kb_id=kb_id,
            title=title.strip()[:500] or filename,
            filename=filename,
            content_type=content_type,
            size=size,
            bucket=_bucket(),
            key=key,
        )


def _put_object(document: dict[str, Any], body: bytes, content_type: str) -> None:
    try:
        _s3_call(
            "put_object",
            _s3().put_object,
            Bucket=document["s3_bucket"],
            Key=document["s3_key"],
            Body=body,
            ContentType=content_type,
            Metadata={"document-id": document["id"], CONTENT_HASH_METADATA: hashlib.sha256(body).hexdigest()},
        )
    except DependencyUnavailable:
        # No object, no event: the row would stay pending forever. Remove it; the client retries.
        with db.connection() as conn:
            conn.execute("DELETE FROM documents WHERE id = %s", (document["id"],))
        raise
    metrics.add_metric(name="DocumentsUploaded", unit=MetricUnit.Count, value=1)


# The object metadata that lets an identical upload find its document (find_identical_document).
CONTENT_HASH_METADATA = "content-sha256"


def find_identical_document(caller: Caller, kb_id: str, data: bytes) -> dict[str, Any] | None:
    """The caller's document in ``kb_id`` with exactly ``data`` as its file (unless it failed).

    Candidates are the documents of the same size; the SHA-256 stored in each one's object
    metadata at upload decides. Uploading a file twice so answers with the first document
    instead of indexing the same text twice. Two identical uploads at the same moment can
    still both be stored (no lock), which costs storage, never correctness.
    """
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    digest = hashlib.sha256(data).hexdigest()
    with db.connection() as conn:
        _owned_kb(conn, caller, kb_id)
        rows = conn.execute(
            """SELECT id, s3_bucket, s3_key FROM documents
               WHERE kb_id = %s AND owner_id = %s AND size = %s AND status <> 'failed'
               ORDER BY created_at LIMIT 20""",
            (kb_id, caller.user_id, len(data)),
        ).fetchall()
    for row in rows:
        try:
            head = _s3_call("head_object", _s3().head_object, Bucket=row["s3_bucket"], Key=row["s3_key"])
        except (NotFound, DependencyUnavailable):
            continue
        if (head.get("Metadata") or {}).get(CONTENT_HASH_METADATA) == digest:
            return get_document(caller, kb_id, str(row["id"]))
    return None


def add_text_document(caller: Caller, kb_id: str, body: TextDocumentCreate) -> dict[str, Any]:
    """Store text (or Markdown) as a document; ingestion continues asynchronously (status pending)."""
    data = body.content.encode("utf-8")
    if len(data) > MAX_TEXT_BYTES:
        raise PayloadTooLarge(
            f"The content is {len(data) / MB:.1f} MB; send at most {MAX_TEXT_BYTES // MB} MB as text, "
            "or upload a file through POST /knowledge/{kb}/documents/upload-url."
        )
    filename = safe_filename(body.title)[:120] + ".md"
    document = _new_document(
        caller, kb_id, title=body.title, filename=filename, content_type="text/markdown; charset=utf-8", size=len(data)
    )
    _put_object(document, data, "text/markdown; charset=utf-8")
    return document_out(document)


def upload_document(
    caller: Caller, kb_id: str, *, filename: str, content_type: str | None, data: bytes, title: str | None
) -> dict[str, Any]:
    """Store an uploaded file (at most ``MAX_UPLOAD_BYTES``) as a document; ingestion is asynchronous."""
    filename = safe_filename(filename or "")
    _require_supported(filename)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"Uploads through the API are limited to {MAX_UPLOAD_BYTES // MB} MB; use "
            "POST /knowledge/{kb}/documents/upload-url for larger files."
        )
    if not data:
        raise ValidationFailed(
            "The file is empty.", errors=[{"loc": ["body", "file"], "msg": "empty file", "type": "value_error"}]
        )
    limit = tier_max_bytes(caller.tier)
    if len(data) > limit:
        raise PayloadTooLarge(f"The {caller.tier} tier accepts files up to {limit / MB:.0f} MB.")
    ctype = _content_type(filename, content_type)
    document = _new_document(
        caller, kb_id, title=title or filename, filename=filename, content_type=ctype, size=len(data)
    )
    _put_object(document, data, ctype)
    return document_out(document)


def create_upload_url(caller: Caller, kb_id: str, body: UploadUrlRequest) -> dict[str, Any]:
    """A presigned S3 POST for one file: the document exists (pending) until the upload's event arrives.

    The policy pins the key and the content type and limits the size (``content-length-range``)
    to the caller's tier, so the URL cannot be used for anything else.
    """
    filename = safe_filename(body.filename)
    _require_supported(filename)
    limit = tier_max_bytes(caller.tier)
    if body.size is not None and body.size > limit:
        raise PayloadTooLarge(f"The {caller.tier} tier accepts files up to {limit / MB:.0f} MB.")
    ctype = _content_type(filename, body.content_type)
    document = _new_document(
        caller, kb_id, title=body.title or filename, filename=filename, content_type=ctype, size=body.size
    )
    presigned = _s3_call(
        "generate_presigned_post",
        _s3().generate_presigned_post,
        Bucket=document["s3_bucket"],
        Key=document["s3_key"],
        Fields={"Content-Type": ctype},
        Conditions=[{"Content-Type": ctype}, ["content-length-range", 1, limit]],
        ExpiresIn=UPLOAD_URL_EXPIRES_S,
    )
    return {
        "document_id": document["id"],
        "method": "POST",
        "url": presigned["url"],
        "fields": {k: str(v) for k, v in presigned["fields"].items()},
        "headers": None,
        "expires_in": UPLOAD_URL_EXPIRES_S,
        "max_bytes": limit,
        "key": document["s3_key"],
    }


# --------------------------------------------------------------------------- documents out


def list_documents(
    caller: Caller, kb_id: str, *, limit: int, cursor: str | None, status: str | None = None
) -> dict[str, Any]:
    """The documents of one of the caller's knowledge bases, newest first."""
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    after = _keyset_after(cursor)
    with db.connection() as conn:
        _owned_kb(conn, caller, kb_id)
        KnowledgeRepository(conn).expire_unused_uploads(caller.user_id, kb_id, UPLOAD_GRANT_EXPIRED_S)
        rows = KnowledgeRepository(conn).list_documents(
            caller.user_id, kb_id, limit=limit + 1, status=status, after=after
        )
    items, next_cursor = _page(rows, limit)
    return {"items": [document_out(r) for r in items], "next_cursor": next_cursor}


def _owned_document(conn: Any, caller: Caller, kb_id: str, document_id: str) -> dict[str, Any]:
    document = KnowledgeRepository(conn).get_document(caller.user_id, kb_id, document_id)
    if document is None:
        raise _doc_not_found()
    return document


def get_document(caller: Caller, kb_id: str, document_id: str) -> dict[str, Any]:
    """One document of the caller (its status tells how ingestion went)."""
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    document_id = _uuid_or_404(document_id, _doc_not_found())
    with db.connection() as conn:
        KnowledgeRepository(conn).expire_unused_uploads(caller.user_id, kb_id, UPLOAD_GRANT_EXPIRED_S)
        return document_out(_owned_document(conn, caller, kb_id, document_id))


def delete_document(caller: Caller, kb_id: str, document_id: str) -> None:
    """Delete a document: its file in S3 (every version), then its row and chunks."""
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    document_id = _uuid_or_404(document_id, _doc_not_found())
    with db.connection() as conn:
        document = _owned_document(conn, caller, kb_id, document_id)
    _delete_all_versions(document["s3_bucket"], key=document["s3_key"])
    with db.connection() as conn:
        KnowledgeRepository(conn).delete_document(caller.user_id, kb_id, document_id)
    metrics.add_metric(name="DocumentsDeleted", unit=MetricUnit.Count, value=1)


def list_chunks(caller: Caller, kb_id: str, document_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """The document's chunks in order (a preview of what search sees)."""
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    document_id = _uuid_or_404(document_id, _doc_not_found())
    after_index: int | None = None
    if cursor:
        after_index = decode_cursor(cursor, ChunkPosition).i
    with db.connection() as conn:
        _owned_document(conn, caller, kb_id, document_id)
        rows = KnowledgeRepository(conn).list_chunks(
            caller.user_id, document_id, limit=limit + 1, after_index=after_index
        )
    items = rows[:limit]
    next_cursor = encode_cursor({"i": items[-1]["chunk_index"]}) if len(rows) > limit else None
    out = []
    for row in items:
        path = list(row.pop("heading_path") or [])
        out.append({**row, "heading": " > ".join(path) or None})
    return {"items": out, "next_cursor": next_cursor}


def reindex_document(caller: Caller, kb_id: str, document_id: str) -> dict[str, Any]:
    """Ingest the document's file again (after a failure, or with a new parser or model).

    The object is copied onto itself with fresh metadata: that is a new object version and a
    new S3 event, so the reindex takes exactly the path of every other document.
    """
    kb_id = _uuid_or_404(kb_id, _kb_not_found())
    document_id = _uuid_or_404(document_id, _doc_not_found())
    from botocore.exceptions import ClientError

    with db.connection() as conn:
        document = _owned_document(conn, caller, kb_id, document_id)
    s3 = _s3()
    try:
        head = s3.head_object(Bucket=document["s3_bucket"], Key=document["s3_key"])
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise Conflict("The document has no file yet: upload it first.") from exc
        raise DependencyUnavailable("Document storage is unavailable; try again shortly.") from exc
    with db.connection() as conn:
        KnowledgeRepository(conn).mark_reindex(caller.user_id, kb_id, document_id)
    metadata = dict(head.get("Metadata") or {})
    metadata.update({"document-id": document_id, "reindex-requested-at": datetime.now(UTC).isoformat()})
    _s3_call(
        "copy_object",
        s3.copy_object,
        Bucket=document["s3_bucket"],
        Key=document["s3_key"],
        CopySource={"Bucket": document["s3_bucket"], "Key": document["s3_key"]},
        MetadataDirective="REPLACE",
        Metadata=metadata,
        ContentType=head.get("ContentType") or "application/octet-stream",
    )
    with db.connection() as conn:
        KnowledgeRepository(conn).expire_unused_uploads(caller.user_id, kb_id, UPLOAD_GRANT_EXPIRED_S)
        return document_out(_owned_document(conn, caller, kb_id, document_id))


# --------------------------------------------------------------------------- search


def query(caller: Caller, body: QueryRequest, *, kb_id: str | None = None) -> dict[str, Any]:
    """Search one knowledge base (``kb_id``) or several of the caller's; optionally answer from the passages."""
    with db.connection() as conn:
        repo = KnowledgeRepository(conn)
        if kb_id is not None:
            kb_ids = [_uuid_or_404(kb_id, _kb_not_found())]
            _owned_kb(conn, caller, kb_ids[0])
        elif body.knowledge_base_ids is not None:
            wanted = list(dict.fromkeys(_uuid_or_404(k, _kb_not_found()) for k in body.knowledge_base_ids))
            kb_ids = repo.owned_kb_ids(caller.user_id, wanted)
            if len(kb_ids) != len(wanted):
                raise _kb_not_found()
        else:
            kb_ids = repo.owned_kb_ids(caller.user_id, None)
        hits = get_retriever().hits(
            conn, owner_id=caller.user_id, kb_ids=kb_ids, question=body.question, top_k=body.top_k, mode=body.mode
        )
    metrics.add_metric(name="KnowledgeQueries", unit=MetricUnit.Count, value=1)
    result: dict[str, Any] = {
        "mode": body.mode,
        "sources": [
            {
                "document_id": h.document_id,
                "title": h.title,
                "chunk_index": h.chunk_index,
                "score": h.score,
                "snippet": snippet_of(h.text, h.heading_path, body.question),
                "heading": " > ".join(h.heading_path) or None,
                "page": h.page,
                "knowledge_base_id": h.kb_id,
            }
            for h in hits
        ],
    }
    if body.answer:
        from claw_ai.answering.pipeline import answer_question

        answer = answer_question(caller, body.question, [source_of(h, body.question) for h in hits])
        result.update(answer=answer.content, model=answer.model, cached=answer.cached, usage=answer.usage_out())
    return result
