"""An upload URL that expires unused turns its document ``failed`` (never uploaded), without a scheduler."""

from __future__ import annotations

from typing import Any

from tests.auth_helpers import API, new_user
from tests.knowledge_helpers import create_kb


def test_a_never_used_upload_grant_fails_its_document_when_read_or_listed(api: Any, db: Any) -> None:
    # Given two upload grants, one of them issued longer ago than a grant lives
    alice = new_user(api)
    kb = create_kb(api, alice)
    base = f"{API}/knowledge/{kb}/documents"
    old = api.post(f"{base}/upload-url", json={"filename": "old.pdf"}, headers=alice.headers).json()["document_id"]
    fresh = api.post(f"{base}/upload-url", json={"filename": "new.pdf"}, headers=alice.headers).json()["document_id"]
    db.execute("UPDATE documents SET created_at = created_at - interval '16 minutes' WHERE id = %s", (old,))
    assert db.execute("SELECT status FROM documents WHERE id = %s", (old,)).fetchone()["status"] == "pending"

    # When the documents are read
    document = api.get(f"{base}/{old}", headers=alice.headers).json()
    listed = {d["id"]: d for d in api.get(base, headers=alice.headers).json()["items"]}

    # Then the expired one failed with the reason, the fresh one still waits for its file
    assert document["status"] == "failed" and "never uploaded" in document["error"]
    assert listed[old]["status"] == "failed"
    assert listed[fresh]["status"] == "pending"
    row = db.execute("SELECT error_code FROM documents WHERE id = %s", (old,)).fetchone()
    assert row["error_code"] == "never_uploaded"
