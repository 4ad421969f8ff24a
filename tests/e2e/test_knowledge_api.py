"""The knowledge API through the local gateway: CRUD, every way in, isolation, search and RAG chat."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth_helpers import new_user
from tests.knowledge_helpers import API, add_text, create_kb, make_docx, make_pdf, wait_settled

MB = 1024 * 1024


# A fresh user per test: the knowledge route group allows 30 requests a minute per user.
@pytest.fixture()
def alice(api: Any) -> Any:
    return new_user(api)


@pytest.fixture()
def bob(api: Any) -> Any:
    return new_user(api)


def _doc(api: Any, user: Any, kb_id: str, doc_id: str) -> httpx.Response:
    return api.get(f"{API}/knowledge/{kb_id}/documents/{doc_id}", headers=user.headers)


def _wait_ready(api: Any, db: Any, user: Any, kb_id: str, doc_id: str, timeout: float = 30) -> dict[str, Any]:
    """Wait on the database (polling the API would spend the rate limit), then read it through the API."""
    wait_settled(db, document_id=doc_id, timeout=timeout)
    body = _doc(api, user, kb_id, doc_id).json()
    assert body["status"] == "ready", body["error"]
    return body


def test_knowledge_base_crud_and_pagination(api: Any, alice: Any) -> None:
    # Create
    resp = api.post(f"{API}/knowledge", json={"name": " 产品资料 ", "description": "手册"}, headers=alice.headers)
    assert resp.status_code == 201
    kb = resp.json()
    assert kb["name"] == "产品资料" and kb["document_count"] == 0 and {"id", "created_at"} <= set(kb)

    # Read, update
    assert api.get(f"{API}/knowledge/{kb['id']}", headers=alice.headers).json()["name"] == "产品资料"
    resp = api.put(f"{API}/knowledge/{kb['id']}", json={"description": "新描述"}, headers=alice.headers)
    assert resp.status_code == 200 and resp.json()["description"] == "新描述" and resp.json()["name"] == "产品资料"

    # List, paginated with a cursor
    for i in range(3):
        create_kb(api, alice, f"page {i}")
    first = api.get(f"{API}/knowledge", params={"limit": 2}, headers=alice.headers).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get(
        f"{API}/knowledge", params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice.headers
    ).json()
    seen = [k["id"] for k in first["items"] + second["items"]]
    assert len(seen) == 4 and len(set(seen)) == 4

    # Bad input is a clear 4xx
    assert api.post(f"{API}/knowledge", json={"name": "  "}, headers=alice.headers).status_code == 422
    bad = api.get(f"{API}/knowledge", params={"cursor": "garbage!"}, headers=alice.headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert api.get(f"{API}/knowledge/not-a-uuid", headers=alice.headers).status_code == 404

    # Delete
    assert api.delete(f"{API}/knowledge/{kb['id']}", headers=alice.headers).status_code == 204
    assert api.get(f"{API}/knowledge/{kb['id']}", headers=alice.headers).status_code == 404


def test_another_user_cannot_see_or_touch_a_knowledge_base(api: Any, db: Any, alice: Any, bob: Any) -> None:
    kb = create_kb(api, alice, "alice private")
    doc = add_text(api, alice, kb, "Secret", "# Secret\n\nThe vault combination is 4-8-15-16-23-42.")
    wait_settled(db, document_id=doc)
    bob_kb = create_kb(api, bob, "bob's")

    # Every way in answers 404 for Bob, exactly like a missing id
    base = f"{API}/knowledge/{kb}"
    calls = [
        api.get(base, headers=bob.headers),
        api.put(base, json={"name": "mine now"}, headers=bob.headers),
        api.get(f"{base}/documents", headers=bob.headers),
        api.get(f"{base}/documents/{doc}", headers=bob.headers),
        api.get(f"{base}/documents/{doc}/chunks", headers=bob.headers),
        api.post(f"{base}/documents/{doc}/reindex", headers=bob.headers),
        api.post(f"{base}/documents", json={"title": "x", "content": "y"}, headers=bob.headers),
        api.post(f"{base}/documents/upload", files={"file": ("a.txt", b"hi", "text/plain")}, headers=bob.headers),
        api.post(f"{base}/documents/upload-url", json={"filename": "a.pdf"}, headers=bob.headers),
        api.post(f"{base}/query", json={"question": "vault combination"}, headers=bob.headers),
        api.post(f"{API}/knowledge/query", json={"question": "vault", "knowledge_base_ids": [kb]}, headers=bob.headers),
        api.delete(f"{base}/documents/{doc}", headers=bob.headers),
        api.delete(base, headers=bob.headers),
        # Alice's document through Bob's own knowledge base
        api.get(f"{API}/knowledge/{bob_kb}/documents/{doc}", headers=bob.headers),
        api.delete(f"{API}/knowledge/{bob_kb}/documents/{doc}", headers=bob.headers),
    ]
    assert [c.status_code for c in calls] == [404] * len(calls), [(c.request.url.path, c.status_code) for c in calls]

    # Bob's own search over all his knowledge bases never returns Alice's chunks
    resp = api.post(f"{API}/knowledge/query", json={"question": "vault combination 4-8-15"}, headers=bob.headers)
    assert resp.status_code == 200 and resp.json()["sources"] == []
    assert all(k["id"] != kb for k in api.get(f"{API}/knowledge", headers=bob.headers).json()["items"])

    # And Alice's data is intact
    assert _doc(api, alice, kb, doc).json()["status"] == "ready"
    hits = api.post(f"{base}/query", json={"question": "vault combination"}, headers=alice.headers).json()["sources"]
    assert hits and hits[0]["document_id"] == doc


def test_multipart_upload_limits_and_types(api: Any, db: Any, alice: Any) -> None:
    kb = create_kb(api, alice)
    docx = make_docx("Onboarding", ["New hires receive a laptop on their first morning."])
    resp = api.post(
        f"{API}/knowledge/{kb}/documents/upload",
        files={"file": ("onboarding guide.docx", docx, "application/octet-stream")},
        data={"title": "Onboarding"},
        headers=alice.headers,
    )
    assert resp.status_code == 202, resp.text
    doc = resp.json()
    assert doc["status"] in ("pending", "processing", "ready") and doc["title"] == "Onboarding"
    ready = _wait_ready(api, db, alice, kb, doc["id"])
    assert ready["file_type"] == "docx" and ready["chunk_count"] >= 1 and ready["size"] == len(docx)

    # A type that cannot be ingested, and a file over the 4 MB API limit
    exe = api.post(
        f"{API}/knowledge/{kb}/documents/upload",
        files={"file": ("tool.exe", b"MZ...", "application/x-msdownload")},
        headers=alice.headers,
    )
    assert exe.status_code == 415
    big = api.post(
        f"{API}/knowledge/{kb}/documents/upload",
        files={"file": ("big.txt", b"x" * (4 * MB + 100_000), "text/plain")},
        headers=alice.headers,
    )
    assert big.status_code == 413 and "upload-url" in big.json()["detail"]


def test_presigned_pdf_and_dropped_docx_are_answered_with_citations(
    platform: Any, api: Any, db: Any, s3: Any, alice: Any
) -> None:
    kb = create_kb(api, alice, "support")

    # A PDF uploaded through a presigned S3 POST
    pdf = make_pdf(
        [
            ["Service manual.", "Descaling: run the descaling programme every 90 days."]
            + [f"Cleaning note {i}: wipe the steam wand and the drip tray after use." for i in range(36)],
            ["Troubleshooting.", "If the red light blinks twice, the water tank is empty."],
        ]
    )
    resp = api.post(
        f"{API}/knowledge/{kb}/documents/upload-url",
        json={"filename": "service manual.pdf", "content_type": "application/pdf", "size": len(pdf)},
        headers=alice.headers,
    )
    assert resp.status_code == 201, resp.text
    grant = resp.json()
    assert grant["method"] == "POST" and grant["expires_in"] > 0 and grant["url"].startswith("http://127.0.0.1:")
    upload = httpx.post(grant["url"], data=grant["fields"], files={"file": ("service manual.pdf", pdf)}, timeout=30)
    assert upload.status_code in (200, 201, 204), upload.text

    # A DOCX dropped straight into the bucket
    docx = make_docx("保修政策", ["咖啡机整机保修两年，易损件保修六个月。"])
    key = f"kb/{kb}/dropped/保修 政策.docx"
    s3.put_object(Bucket=platform.stack.bucket_name, Key=key, Body=docx)

    # Both are ready within seconds
    pdf_doc = _wait_ready(api, db, alice, kb, grant["document_id"])
    assert pdf_doc["file_type"] == "pdf" and pdf_doc["parser"] == "pypdf"
    dropped = wait_settled(db, key=key)
    assert dropped["status"] == "ready" and str(dropped["owner_id"]) == alice.id
    listed = api.get(f"{API}/knowledge/{kb}/documents", headers=alice.headers).json()["items"]
    assert {d["id"] for d in listed} == {grant["document_id"], str(dropped["id"])}

    # A query finds the right passage, with its page and the document's title
    sources = api.post(
        f"{API}/knowledge/{kb}/query",
        json={"question": "what does it mean when the red light blinks twice?", "top_k": 3},
        headers=alice.headers,
    ).json()["sources"]
    # (page is where the chunk starts; this one starts on page 1 and runs onto page 2)
    assert sources[0]["document_id"] == grant["document_id"] and sources[0]["page"] in (1, 2)
    assert "water tank" in sources[0]["snippet"]

    # And chat in a conversation with the knowledge base answers citing it
    conv = api.post(
        f"{API}/conversations", json={"title": "support", "knowledge_base_id": kb}, headers=alice.headers
    ).json()
    reply = api.post(
        f"{API}/conversations/{conv['id']}/chat", json={"message": "咖啡机保修多久？"}, headers=alice.headers
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["sources"] and body["sources"][0]["document_id"] == str(dropped["id"])
    assert "两年" in body["content"]
    stored = api.get(f"{API}/conversations/{conv['id']}/messages", headers=alice.headers).json()["items"]
    assert stored[-1]["role"] == "assistant" and stored[-1]["sources"][0]["document_id"] == str(dropped["id"])

    # The multi-knowledge-base query with a generated answer
    many = api.post(
        f"{API}/knowledge/query",
        json={"question": "how often should the descaling programme run?", "answer": True},
        headers=alice.headers,
    ).json()
    assert many["sources"][0]["document_id"] == grant["document_id"] and "90 days" in many["answer"]


def test_chunks_reindex_and_delete(platform: Any, api: Any, db: Any, s3: Any, alice: Any) -> None:
    kb = create_kb(api, alice)
    # Steps long enough to stand alone as chunks (shorter ones would be merged with their neighbours).
    step = (
        "Turn the dial to position {i}, wait until the green light stops blinking, then press the button twice "
        "to confirm. The display shows position {i} for five seconds before it returns to the clock, and the "
        "machine beeps once when it is ready for the next step."
    )
    content = "# Guide\n\n" + "\n\n".join(f"## Step {i}\n\n" + step.format(i=i) for i in range(30))
    doc = add_text(api, alice, kb, "Dial guide", content)
    first = _wait_ready(api, db, alice, kb, doc)

    # Chunks, in order, page by page
    resp = api.get(f"{API}/knowledge/{kb}/documents/{doc}/chunks", params={"limit": 5}, headers=alice.headers)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert [c["chunk_index"] for c in page["items"]] == [0, 1, 2, 3, 4] and page["next_cursor"]
    nxt = api.get(
        f"{API}/knowledge/{kb}/documents/{doc}/chunks",
        params={"limit": 5, "cursor": page["next_cursor"]},
        headers=alice.headers,
    ).json()
    assert nxt["items"][0]["chunk_index"] == 5 and nxt["items"][0]["heading"].startswith("Guide")

    # Reindex goes through S3 and SQS again and ends ready with the same chunks
    resp = api.post(f"{API}/knowledge/{kb}/documents/{doc}/reindex", headers=alice.headers)
    assert resp.status_code == 202 and resp.json()["status"] == "pending"
    again = _wait_ready(api, db, alice, kb, doc)
    assert again["chunk_count"] == first["chunk_count"] and again["ingested_at"] != first["ingested_at"]

    # Delete removes the document, its chunks and its file
    key = db.execute("SELECT s3_key FROM documents WHERE id = %s", (doc,)).fetchone()["s3_key"]
    assert api.delete(f"{API}/knowledge/{kb}/documents/{doc}", headers=alice.headers).status_code == 204
    assert _doc(api, alice, kb, doc).status_code == 404
    assert db.execute("SELECT count(*) AS n FROM chunks WHERE document_id = %s", (doc,)).fetchone()["n"] == 0
    versions = s3.list_object_versions(Bucket=platform.stack.bucket_name, Prefix=key)
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")

    # Deleting the knowledge base removes every file under its prefix
    add_text(api, alice, kb, "Another", "Something else.")
    assert api.delete(f"{API}/knowledge/{kb}", headers=alice.headers).status_code == 204
    left = s3.list_object_versions(Bucket=platform.stack.bucket_name, Prefix=f"kb/{kb}/")
    assert not left.get("Versions")
    assert db.execute("SELECT count(*) AS n FROM documents WHERE kb_id = %s", (kb,)).fetchone()["n"] == 0
