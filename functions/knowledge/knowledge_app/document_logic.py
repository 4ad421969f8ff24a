"""Documents: every way in ends as an S3 object that the ingest function reads.

* ``POST …/documents`` (text) and ``…/documents/upload`` (multipart) write the object here;
* ``…/documents/upload-url`` hands out a presigned S3 POST for the client to upload itself;
* files dropped straight into ``s3://<bucket>/kb/<kb_id>/…`` need no API call at all.

In every case the object's S3 event reaches the ingest function through SQS, which parses,
chunks, embeds and stores it, and moves the document from ``pending`` to ``ready`` or
``failed``. The API creates the document row *before* the object exists, so ingest always
finds it by key. A document can be marked superseded by another one, or valid only for a
period (``PATCH``/``PUT``); search leaves out what is not in force.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.documents import object_key
from claw_common.errors import Conflict, DependencyUnavailable, NotFound, PayloadTooLarge, ValidationFailed
from claw_common.http.pagination import ChunkPosition, decode_cursor, encode_cursor
from claw_common.observability import MetricUnit, metrics
from knowledge_app.common import (
    MAX_TEXT_BYTES,
    MAX_UPLOAD_BYTES,
    MB,
    UPLOAD_GRANT_EXPIRED_S,
    UPLOAD_URL_EXPIRES_S,
    content_type_for,
    delete_all_versions,
    doc_not_found,
    document_out,
    documents_bucket,
    kb_not_found,
    keyset_after,
    owned_document,
    owned_kb,
    page_of,
    require_supported,
    s3_call,
    s3_client,
    safe_filename,
    tier_max_bytes,
    uuid_or_404,
)
from knowledge_app.models import (
    ChunkOut,
    ChunkPage,
    Document,
    DocumentPage,
    DocumentUpdate,
    TextDocumentCreate,
    UploadUrl,
    UploadUrlRequest,
    Validity,
)
from knowledge_app.repository import KnowledgeRepository


def new_document(
    caller: Caller,
    kb_id: str,
    *,
    title: str,
    filename: str,
    content_type: str | None,
    size: int | None,
    validity: Validity | None = None,
) -> dict[str, Any]:
    kb_id = uuid_or_404(kb_id, kb_not_found())
    document_id = str(uuid.uuid4())
    filename = safe_filename(filename)
    key = object_key(kb_id, document_id, filename)
    with db.connection() as conn:
        owned_kb(conn, caller, kb_id)
        changes = _validity_changes(conn, caller, kb_id, document_id, validity) if validity else {}
        repo = KnowledgeRepository(conn)
        repo.create_document(
            document_id=document_id,
            owner_id=caller.user_id,
            kb_id=kb_id,
            title=title.strip()[:500] or filename,
            filename=filename,
            content_type=content_type,
            size=size,
            bucket=documents_bucket(),
            key=key,
        )
        return repo.update_document(caller.user_id, kb_id, document_id, changes)  # type: ignore[return-value]


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _validity_changes(
    conn: Any, caller: Caller, kb_id: str, document_id: str, validity: Validity, fields: set[str] | None = None
) -> dict[str, Any]:
    """The validity columns to set (``fields``: those the client sent; None = the non-null ones)."""
    wanted = fields if fields is not None else {k for k, v in validity.model_dump().items() if v is not None}
    changes = {k: v for k, v in validity.model_dump().items() if k in wanted}
    replacement = changes.get("superseded_by")
    if replacement is not None:
        replacement = str(replacement).lower()
        if replacement == document_id:
            raise _invalid("superseded_by", "A document cannot supersede itself.")
        if (
            not _is_uuid(replacement)
            or KnowledgeRepository(conn).get_document(caller.user_id, kb_id, replacement) is None
        ):
            raise _invalid("superseded_by", "superseded_by must be another document of the same knowledge base.")
        changes["superseded_by"] = replacement
    return changes


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def update_document(caller: Caller, kb_id: str, document_id: str, body: DocumentUpdate) -> Document:
    """Change a document's title, replacement (``superseded_by``) or validity period; absent fields stay."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    document_id = uuid_or_404(document_id, doc_not_found())
    sent = set(body.model_fields_set)
    with db.connection() as conn:
        current = owned_document(conn, caller, kb_id, document_id)
        changes = _validity_changes(conn, caller, kb_id, document_id, body, sent - {"title"})
        start = changes.get("valid_from", current["valid_from"])
        end = changes.get("valid_until", current["valid_until"])
        if start is not None and end is not None and start >= end:
            raise _invalid("valid_until", "valid_from must be before valid_until")
        if "title" in sent:
            if body.title is None or not body.title.strip():
                raise _invalid("title", "title must not be blank")
            changes["title"] = body.title.strip()
        document = KnowledgeRepository(conn).update_document(caller.user_id, kb_id, document_id, changes)
    return document_out(document or current)


def put_object(document: dict[str, Any], body: bytes, content_type: str) -> None:
    try:
        s3_call(
            "put_object",
            s3_client().put_object,
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


def find_identical_document(caller: Caller, kb_id: str, data: bytes) -> Document | None:
    """The caller's document in ``kb_id`` with exactly ``data`` as its file (unless it failed).

    Candidates are the documents of the same size; the SHA-256 stored in each one's object
    metadata at upload decides. Uploading a file twice so answers with the first document
    instead of indexing the same text twice. Two identical uploads at the same moment can
    still both be stored (no lock), which costs storage, never correctness.
    """
    kb_id = uuid_or_404(kb_id, kb_not_found())
    digest = hashlib.sha256(data).hexdigest()
    with db.connection() as conn:
        owned_kb(conn, caller, kb_id)
        rows = conn.execute(
            """SELECT id, s3_bucket, s3_key FROM documents
               WHERE kb_id = %s AND owner_id = %s AND size = %s AND status <> 'failed'
               ORDER BY created_at LIMIT 20""",
            (kb_id, caller.user_id, len(data)),
        ).fetchall()
    for row in rows:
        try:
            head = s3_call("head_object", s3_client().head_object, Bucket=row["s3_bucket"], Key=row["s3_key"])
        except (NotFound, DependencyUnavailable):
            continue
        if (head.get("Metadata") or {}).get(CONTENT_HASH_METADATA) == digest:
            return get_document(caller, kb_id, str(row["id"]))
    return None


def add_text_document(caller: Caller, kb_id: str, body: TextDocumentCreate) -> Document:
    """Store text (or Markdown) as a document; ingestion continues asynchronously (status pending)."""
    data = body.content.encode("utf-8")
    if len(data) > MAX_TEXT_BYTES:
        raise PayloadTooLarge(
            f"The content is {len(data) / MB:.1f} MB; send at most {MAX_TEXT_BYTES // MB} MB as text, "
            "or upload a file through POST /knowledge/{kb}/documents/upload-url."
        )
    filename = safe_filename(body.title)[:120] + ".md"
    document = new_document(
        caller,
        kb_id,
        title=body.title,
        filename=filename,
        content_type="text/markdown; charset=utf-8",
        size=len(data),
        validity=body,
    )
    put_object(document, data, "text/markdown; charset=utf-8")
    return document_out(document)


def upload_document(
    caller: Caller, kb_id: str, *, filename: str, content_type: str | None, data: bytes, title: str | None
) -> Document:
    """Store an uploaded file (at most ``MAX_UPLOAD_BYTES``) as a document; ingestion is asynchronous."""
    filename = safe_filename(filename or "")
    require_supported(filename)
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
    ctype = content_type_for(filename, content_type)
    document = new_document(
        caller, kb_id, title=title or filename, filename=filename, content_type=ctype, size=len(data)
    )
    put_object(document, data, ctype)
    return document_out(document)


def create_upload_url(caller: Caller, kb_id: str, body: UploadUrlRequest) -> UploadUrl:
    """A presigned S3 POST for one file: the document exists (pending) until the upload's event arrives.

    The policy pins the key and the content type and limits the size (``content-length-range``)
    to the caller's tier, so the URL cannot be used for anything else.
    """
    filename = safe_filename(body.filename)
    require_supported(filename)
    limit = tier_max_bytes(caller.tier)
    if body.size is not None and body.size > limit:
        raise PayloadTooLarge(f"The {caller.tier} tier accepts files up to {limit / MB:.0f} MB.")
    ctype = content_type_for(filename, body.content_type)
    document = new_document(
        caller,
        kb_id,
        title=body.title or filename,
        filename=filename,
        content_type=ctype,
        size=body.size,
        validity=body,
    )
    presigned = s3_call(
        "generate_presigned_post",
        s3_client().generate_presigned_post,
        Bucket=document["s3_bucket"],
        Key=document["s3_key"],
        Fields={"Content-Type": ctype},
        Conditions=[{"Content-Type": ctype}, ["content-length-range", 1, limit]],
        ExpiresIn=UPLOAD_URL_EXPIRES_S,
    )
    return UploadUrl.model_validate(
        {
            "document_id": document["id"],
            "method": "POST",
            "url": presigned["url"],
            "fields": {k: str(v) for k, v in presigned["fields"].items()},
            "headers": None,
            "expires_in": UPLOAD_URL_EXPIRES_S,
            "max_bytes": limit,
            "key": document["s3_key"],
        }
    )


# --------------------------------------------------------------------------- documents out


def list_documents(
    caller: Caller, kb_id: str, *, limit: int, cursor: str | None, status: str | None = None
) -> DocumentPage:
    """The documents of one of the caller's knowledge bases, newest first."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    after = keyset_after(cursor)
    with db.connection() as conn:
        owned_kb(conn, caller, kb_id)
        KnowledgeRepository(conn).expire_unused_uploads(caller.user_id, kb_id, UPLOAD_GRANT_EXPIRED_S)
        rows = KnowledgeRepository(conn).list_documents(
            caller.user_id, kb_id, limit=limit + 1, status=status, after=after
        )
    items, next_cursor = page_of(rows, limit)
    return DocumentPage(items=[document_out(r) for r in items], next_cursor=next_cursor)


def get_document(caller: Caller, kb_id: str, document_id: str) -> Document:
    """One document of the caller (its status tells how ingestion went)."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    document_id = uuid_or_404(document_id, doc_not_found())
    with db.connection() as conn:
        KnowledgeRepository(conn).expire_unused_uploads(caller.user_id, kb_id, UPLOAD_GRANT_EXPIRED_S)
        return document_out(owned_document(conn, caller, kb_id, document_id))


def delete_document(caller: Caller, kb_id: str, document_id: str) -> None:
    """Delete a document: its file in S3 (every version), then its row and chunks."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    document_id = uuid_or_404(document_id, doc_not_found())
    with db.connection() as conn:
        document = owned_document(conn, caller, kb_id, document_id)
    delete_all_versions(document["s3_bucket"], key=document["s3_key"])

    def delete_row() -> None:
        with db.connection() as conn:
            KnowledgeRepository(conn).delete_document(caller.user_id, kb_id, document_id)

    # Its cascade (chunks, OCR pages, documents it superseded) can meet an ingest's row locks.
    db.retrying_conflicts(delete_row)
    metrics.add_metric(name="DocumentsDeleted", unit=MetricUnit.Count, value=1)


def list_chunks(caller: Caller, kb_id: str, document_id: str, *, limit: int, cursor: str | None) -> ChunkPage:
    """The document's chunks in order (a preview of what search sees)."""
    kb_id = uuid_or_404(kb_id, kb_not_found())
    document_id = uuid_or_404(document_id, doc_not_found())
    after_index: int | None = None
    if cursor:
        after_index = decode_cursor(cursor, ChunkPosition).i
    with db.connection() as conn:
        owned_document(conn, caller, kb_id, document_id)
        rows = KnowledgeRepository(conn).list_chunks(
            caller.user_id, document_id, limit=limit + 1, after_index=after_index
        )
    items = rows[:limit]
    next_cursor = encode_cursor({"i": items[-1]["chunk_index"]}) if len(rows) > limit else None
    out = []
    for row in items:
        path = list(row.pop("heading_path") or [])
        out.append(ChunkOut.model_validate({**row, "heading": " > ".join(path) or None}))
    return ChunkPage(items=out, next_cursor=next_cursor)


def reindex_document(caller: Caller, kb_id: str, document_id: str) -> Document:
    """Ingest the document's file again (after a failure, or with a new parser or model).

    The object is copied onto itself with fresh metadata: that is a new object version and a
    new S3 event, so the reindex takes exactly the path of every other document.
    """
    kb_id = uuid_or_404(kb_id, kb_not_found())
    document_id = uuid_or_404(document_id, doc_not_found())
    from botocore.exceptions import ClientError

    with db.connection() as conn:
        document = owned_document(conn, caller, kb_id, document_id)
    s3 = s3_client()
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
    s3_call(
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
        return document_out(owned_document(conn, caller, kb_id, document_id))
