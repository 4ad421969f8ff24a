"""Assembly after OCR: every page of an object version has its text, ingest that version now.

The OCR function sends ``OcrCompleted`` to the ingest queue when the last page range lands.
Ingest parses the same object version again (its text layer is cheap to read), takes the
stored OCR text for the scanned pages, and writes all the chunks in one transaction, exactly
as for any other document (``ingest_app.logic``).
"""

from __future__ import annotations

from claw_common.data import db
from claw_common.observability import tracer
from claw_common.ocr_messages import OcrCompleted
from ingest_app import ocr_handoff as ocr
from ingest_app import repository as repo
from ingest_app.deps import IngestDeps, get_ingest_deps
from ingest_app.logic import IngestOutcome, _ingest_locked, _lock, _unlock
from ingest_app.objects import head_object


@tracer.capture_method(capture_response=False)
def process_ocr_completed(message: OcrCompleted, deps: IngestDeps | None = None) -> IngestOutcome:
    """Every page of an object version has its OCR text: ingest that version now.

    A duplicate (the document is already ready for that version) or a message about a
    version that is no longer current (a newer upload supersedes it) changes nothing.
    """
    deps = deps or get_ingest_deps()
    with db.connection() as conn:
        document = repo.get_document(conn, message.document_id)
        if document is None:
            conn.rollback()
            return IngestOutcome("skipped", "the document was deleted", message.document_id)
        kb = repo.knowledge_base_owner(conn, str(document["kb_id"]))
        conn.rollback()
        if kb is None or document["ocr_source"] != message.source_version:
            return IngestOutcome("skipped", "OCR of an older version of the object", message.document_id)
        head = head_object(deps.s3, message.bucket, message.key)
        if head is None:
            return IngestOutcome("skipped", "the object no longer exists", message.document_id)
        identity = {"version_id": head["version_id"], "etag": head["etag"], "sequencer": None, "size": head["size"]}
        if ocr.source_version(identity) != message.source_version:
            return IngestOutcome("skipped", "superseded by a newer version of the object", message.document_id)
        _lock(conn, message.document_id)
        try:
            return _ingest_locked(
                conn, deps, kb=kb, document_id=message.document_id, identity=identity, head=head, key=message.key
            )
        finally:
            _unlock(conn, message.document_id)
