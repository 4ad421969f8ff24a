"""SQL of the ingest function: knowledge bases, documents and their chunks.

Plain SQL with parameters. Chunks are written with binary COPY in the caller's transaction,
after the old ones are deleted, so readers see either the old set or the new one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ingest_app.copy_rows import COPY_CHUNKS, copy_data


@dataclass(frozen=True, slots=True)
class KnowledgeBaseOwner:
    """A knowledge base and what ingest needs to know about its owner."""

    kb_id: str
    owner_id: str
    tier: str


def knowledge_base_owner(conn: Any, kb_id: str) -> KnowledgeBaseOwner | None:
    """The knowledge base and its owner's tier, or None when it does not exist."""
    row = conn.execute(
        """SELECT kb.id::text AS kb_id, kb.owner_id::text AS owner_id, u.tier
             FROM knowledge_bases kb JOIN users u ON u.id = kb.owner_id
            WHERE kb.id = %s""",
        (kb_id,),
    ).fetchone()
    return KnowledgeBaseOwner(**row) if row else None


def find_or_create_document(
    conn: Any, *, kb: KnowledgeBaseOwner, bucket: str, key: str, filename: str, content_type: str | None
) -> dict[str, Any]:
    """The document row of an object key; a file dropped straight into the bucket gets one now."""
    conn.execute(
        """INSERT INTO documents (kb_id, owner_id, title, filename, content_type, s3_bucket, s3_key)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (s3_bucket, s3_key) DO NOTHING""",
        (kb.kb_id, kb.owner_id, filename[:500] or "untitled", filename, content_type, bucket, key),
    )
    return conn.execute(
        "SELECT * FROM documents WHERE s3_bucket = %s AND s3_key = %s",
        (bucket, key),
    ).fetchone()


def find_document(conn: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The document of an object key, if any."""
    return conn.execute("SELECT * FROM documents WHERE s3_bucket = %s AND s3_key = %s", (bucket, key)).fetchone()


def get_document(conn: Any, document_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """One document by id (optionally row-locked for the rest of the transaction)."""
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(f"SELECT * FROM documents WHERE id = %s{lock}", (document_id,)).fetchone()  # noqa: S608


def lock_document(conn: Any, document_id: str) -> None:
    """Wait for the document's session advisory lock: one ingest per document at a time.

    A session lock (not a transaction lock) because status changes are committed while it is
    held; ``unlock_document`` must run in a ``finally``.
    """
    conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"document:{document_id}",))


def unlock_document(conn: Any, document_id: str) -> None:
    """Release the lock taken by ``lock_document``."""
    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (f"document:{document_id}",))


def mark_processing(conn: Any, document_id: str) -> None:
    """The document is being ingested now."""
    conn.execute(
        "UPDATE documents SET status = 'processing', error = NULL, error_code = NULL, updated_at = now() WHERE id = %s",
        (document_id,),
    )


def mark_failed(
    conn: Any,
    document_id: str,
    *,
    reason: str,
    code: str,
    identity: dict[str, Any] | None = None,
) -> None:
    """The document failed with a readable reason.

    With ``identity`` (a final failure of that object version) a redelivered event for the
    same version changes nothing; without it (a temporary failure) the retry runs again.
    Chunks of an earlier good version are kept, so search still finds the last good text.
    """
    if identity is None:
        conn.execute(
            """UPDATE documents SET status = 'failed', error = %s, error_code = %s, updated_at = now()
                WHERE id = %s""",
            (reason[:1000], code, document_id),
        )
        return
    conn.execute(
        """UPDATE documents
              SET status = 'failed', error = %s, error_code = %s, size = COALESCE(%s, size),
                  s3_version_id = %s, s3_etag = %s, s3_sequencer = COALESCE(%s, s3_sequencer),
                  updated_at = now()
            WHERE id = %s""",
        (
            reason[:1000],
            code,
            identity.get("size"),
            identity.get("version_id"),
            identity.get("etag"),
            identity.get("sequencer"),
            document_id,
        ),
    )


def replace_chunks(conn: Any, *, document: dict[str, Any], rows: Sequence[bytes]) -> None:
    """Delete the document's chunks and COPY the new ones (in the caller's transaction).

    ``rows``: the chunks encoded by ``ingest_app.copy_rows.encode_rows``.
    """
    conn.execute("DELETE FROM chunks WHERE document_id = %s", (uuid.UUID(str(document["id"])),))
    data = copy_data(document["id"], document["kb_id"], document["owner_id"], rows)
    with conn.cursor() as cur, cur.copy(COPY_CHUNKS) as copy:
        copy.write(data)


def mark_ready(conn: Any, document_id: str, *, values: dict[str, Any]) -> None:
    """The new chunks are in: status ready with counts, parser and the object version ingested.

    ``ingested_at`` is the moment of this statement, the transaction's last (its chunks written),
    not the transaction's start: it is when the document became ready, to the millisecond."""
    conn.execute(
        """UPDATE documents
              SET status = 'ready', error = NULL, error_code = NULL,
                  chunk_count = %(chunk_count)s, token_count = %(token_count)s, parser = %(parser)s,
                  file_type = %(file_type)s, page_count = %(page_count)s, size = %(size)s,
                  content_type = COALESCE(%(content_type)s, content_type), embedding_model = %(embedding_model)s,
                  s3_version_id = %(version_id)s, s3_etag = %(etag)s,
                  s3_sequencer = COALESCE(%(sequencer)s, s3_sequencer),
                  ingested_at = clock_timestamp(), updated_at = now()
            WHERE id = %(id)s""",
        {**values, "id": document_id},
    )


def delete_document(conn: Any, document_id: str) -> None:
    """Delete the document; its chunks go with it (ON DELETE CASCADE)."""
    conn.execute("DELETE FROM documents WHERE id = %s", (document_id,))
