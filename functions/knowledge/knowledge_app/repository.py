"""SQL of knowledge bases, documents and chunks for the API. Every query filters by owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

_KB_COLUMNS = """kb.id::text AS id, kb.name, kb.description, kb.no_answer_message, kb.created_at, kb.updated_at,
    (SELECT count(*) FROM documents d WHERE d.kb_id = kb.id)::int AS document_count"""

_DOC_COLUMNS = """id::text AS id, kb_id::text AS knowledge_base_id, title, filename, status, error, error_code,
    chunk_count, token_count, parser, file_type, size, content_type, s3_bucket, s3_key,
    page_count, ocr_pages, ocr_pages_done, ocr_pages_total,
    created_at, updated_at, ingested_at, superseded_by::text AS superseded_by, valid_from, valid_until,
    (superseded_by IS NULL AND (valid_from IS NULL OR valid_from <= now())
     AND (valid_until IS NULL OR valid_until > now())) AS in_force"""

DOCUMENT_VALIDITY_FIELDS = ("title", "superseded_by", "valid_from", "valid_until")
"""Columns a document update may set."""


class KnowledgeRepository:
    """Knowledge bases and their documents, always scoped to one owner."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ knowledge bases

    def create_kb(
        self, owner_id: str, name: str, description: str, no_answer_message: str | None = None
    ) -> dict[str, Any]:
        row = self.conn.execute(
            """INSERT INTO knowledge_bases (owner_id, name, description, no_answer_message)
               VALUES (%s, %s, %s, %s) RETURNING id""",
            (owner_id, name, description, no_answer_message),
        ).fetchone()
        return self.get_kb(owner_id, str(row["id"]))  # type: ignore[return-value]

    def get_kb(self, owner_id: str, kb_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        lock = " FOR UPDATE OF kb" if for_update else ""
        return self.conn.execute(
            f"SELECT {_KB_COLUMNS} FROM knowledge_bases kb WHERE kb.id = %s AND kb.owner_id = %s{lock}",  # noqa: S608
            (kb_id, owner_id),
        ).fetchone()

    def list_kbs(self, owner_id: str, *, limit: int, after: tuple[datetime, str] | None = None) -> list[dict[str, Any]]:
        if after is None:
            return self.conn.execute(
                f"""SELECT {_KB_COLUMNS} FROM knowledge_bases kb WHERE kb.owner_id = %s
                     ORDER BY kb.created_at DESC, kb.id DESC LIMIT %s""",  # noqa: S608
                (owner_id, limit),
            ).fetchall()
        return self.conn.execute(
            f"""SELECT {_KB_COLUMNS} FROM knowledge_bases kb
                 WHERE kb.owner_id = %s AND (kb.created_at, kb.id) < (%s, %s::uuid)
                 ORDER BY kb.created_at DESC, kb.id DESC LIMIT %s""",  # noqa: S608
            (owner_id, after[0], after[1], limit),
        ).fetchall()

    def owned_kb_ids(self, owner_id: str, kb_ids: list[str] | None) -> list[str]:
        """Which of ``kb_ids`` (all when None) belong to the owner."""
        if kb_ids is None:
            rows = self.conn.execute("SELECT id::text AS id FROM knowledge_bases WHERE owner_id = %s", (owner_id,))
        else:
            rows = self.conn.execute(
                "SELECT id::text AS id FROM knowledge_bases WHERE owner_id = %s AND id = ANY(%s::uuid[])",
                (owner_id, kb_ids),
            )
        return [r["id"] for r in rows.fetchall()]

    def update_kb(self, owner_id: str, kb_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        if changes:
            sets = ", ".join(f"{column} = %({column})s" for column in changes)  # column names are fixed by the model
            self.conn.execute(
                f"UPDATE knowledge_bases SET {sets}, updated_at = clock_timestamp() "  # noqa: S608
                "WHERE id = %(id)s AND owner_id = %(owner)s",
                {**changes, "id": kb_id, "owner": owner_id},
            )
        return self.get_kb(owner_id, kb_id)

    def delete_kb(self, owner_id: str, kb_id: str) -> list[dict[str, Any]]:
        """Delete the knowledge base (documents and chunks cascade); returns the deleted documents' S3 objects."""
        objects = self.conn.execute(
            "SELECT s3_bucket, s3_key FROM documents WHERE kb_id = %s AND owner_id = %s", (kb_id, owner_id)
        ).fetchall()
        self.conn.execute("DELETE FROM knowledge_bases WHERE id = %s AND owner_id = %s", (kb_id, owner_id))
        return objects

    # ------------------------------------------------------------------ documents

    def create_document(
        self,
        *,
        document_id: str,
        owner_id: str,
        kb_id: str,
        title: str,
        filename: str,
        content_type: str | None,
        size: int | None,
        bucket: str,
        key: str,
    ) -> dict[str, Any]:
        self.conn.execute(
            """INSERT INTO documents (id, kb_id, owner_id, title, filename, content_type, size, s3_bucket, s3_key)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (document_id, kb_id, owner_id, title, filename, content_type, size, bucket, key),
        )
        return self.get_document(owner_id, kb_id, document_id)  # type: ignore[return-value]

    def update_document(
        self, owner_id: str, kb_id: str, document_id: str, changes: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Set the given columns (names from ``DOCUMENT_VALIDITY_FIELDS`` only)."""
        columns = [c for c in changes if c in DOCUMENT_VALIDITY_FIELDS]
        if columns:
            sets = ", ".join(f"{column} = %({column})s" for column in columns)
            self.conn.execute(
                f"UPDATE documents SET {sets}, updated_at = clock_timestamp() "  # noqa: S608
                "WHERE id = %(id)s AND kb_id = %(kb)s AND owner_id = %(owner)s",
                {**{c: changes[c] for c in columns}, "id": document_id, "kb": kb_id, "owner": owner_id},
            )
        return self.get_document(owner_id, kb_id, document_id)

    def expire_unused_uploads(self, owner_id: str, kb_id: str, older_than_s: int) -> int:
        """Mark ``failed`` (never uploaded) the documents whose upload grant expired unused.

        Checked lazily when documents are listed or read, so no scheduler is needed: a document
        still ``pending`` with no object ever seen (no ETag, version or ingest), created longer
        ago than the grant's lifetime plus a grace for the S3 event in flight. If the file does
        arrive after all, its event ingests it as usual (the failure is not for that object).
        """
        return self.conn.execute(
            """UPDATE documents
                  SET status = 'failed', error_code = 'never_uploaded', updated_at = clock_timestamp(),
                      error = 'The file was never uploaded: the upload URL expired unused.'
                WHERE owner_id = %s AND kb_id = %s AND status = 'pending'
                  AND s3_etag IS NULL AND s3_version_id IS NULL AND ingested_at IS NULL
                  AND created_at < clock_timestamp() - make_interval(secs => %s)""",
            (owner_id, kb_id, older_than_s),
        ).rowcount

    def get_document(self, owner_id: str, kb_id: str, document_id: str) -> dict[str, Any] | None:
        return self.conn.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = %s AND kb_id = %s AND owner_id = %s",  # noqa: S608
            (document_id, kb_id, owner_id),
        ).fetchone()

    def list_documents(
        self, owner_id: str, kb_id: str, *, limit: int, status: str | None, after: tuple[datetime, str] | None
    ) -> list[dict[str, Any]]:
        clauses = ["kb_id = %(kb)s", "owner_id = %(owner)s"]
        params: dict[str, Any] = {"kb": kb_id, "owner": owner_id, "limit": limit}
        if status:
            clauses.append("status = %(status)s")
            params["status"] = status
        if after is not None:
            clauses.append("(created_at, id) < (%(after_at)s, %(after_id)s::uuid)")
            params.update(after_at=after[0], after_id=after[1])
        return self.conn.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE {' AND '.join(clauses)} "  # noqa: S608
            "ORDER BY created_at DESC, id DESC LIMIT %(limit)s",
            params,
        ).fetchall()

    def delete_document(self, owner_id: str, kb_id: str, document_id: str) -> dict[str, Any] | None:
        """Delete the document and its chunks; returns its S3 location (None when it was not there)."""
        return self.conn.execute(
            """DELETE FROM documents WHERE id = %s AND kb_id = %s AND owner_id = %s
               RETURNING s3_bucket, s3_key""",
            (document_id, kb_id, owner_id),
        ).fetchone()

    def mark_reindex(self, owner_id: str, kb_id: str, document_id: str) -> None:
        """Pending again, and forget the ingested version so the next event is not taken for a duplicate."""
        self.conn.execute(
            """UPDATE documents SET status = 'pending', error = NULL, error_code = NULL,
                      s3_version_id = NULL, s3_etag = NULL, updated_at = clock_timestamp()
                WHERE id = %s AND kb_id = %s AND owner_id = %s""",
            (document_id, kb_id, owner_id),
        )

    # ------------------------------------------------------------------ chunks

    def list_chunks(
        self, owner_id: str, document_id: str, *, limit: int, after_index: int | None
    ) -> list[dict[str, Any]]:
        return self.conn.execute(
            """SELECT chunk_index, text, token_count, heading_path, page, row, sheet
                 FROM chunks
                WHERE document_id = %s AND owner_id = %s AND chunk_index > %s
                ORDER BY chunk_index LIMIT %s""",
            (document_id, owner_id, -1 if after_index is None else after_index, limit),
        ).fetchall()
