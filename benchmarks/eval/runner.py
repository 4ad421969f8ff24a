"""Drives the real local platform over HTTP: account, knowledge base, ingest, questions.

Everything goes through the gateway as a client would: register, sign in, create a knowledge
base, add each document (text body for Markdown, multipart upload for the other formats),
wait for ``ready``, read every chunk back, then ``POST /knowledge/{kb}/query`` per question
and mode with ``top_k`` 5 and ``answer: true``. The only step outside the API is making the
evaluation account an enterprise admin (as ``make admin`` would) so it can put the loopback
address on the rate-limit allow list: 400+ queries would otherwise hit the knowledge route's
30/min bucket, which is a product limit, not something retrieval quality should measure.
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from benchmarks.eval.dataset import CorpusDocument, Question, is_relevant
from benchmarks.eval.metrics import contains_fact, first_hit_rank

API = "/api/v1"
TOP_K = 5
CONTENT_TYPES = {".txt": "text/plain", ".html": "text/html", ".csv": "text/csv", ".json": "application/json"}
MODES = ("default", "vector", "hybrid")
# How the offline answerer used to say it could not answer: a heuristic for responses without
# ``no_answer``; that field, when present (it is now), is used instead.
DECLINE_MARKERS = ("no source matched", "没有与该问题匹配")


@dataclass
class Session:
    client: httpx.Client
    headers: dict[str, str]
    kb_id: str
    doc_ids: dict[str, str]  # filename -> document id
    chunks: dict[tuple[str, int], str]  # (document id, chunk index) -> chunk text

    @property
    def filename_of(self) -> dict[str, str]:
        return {v: k for k, v in self.doc_ids.items()}


def _check(resp: httpx.Response, *expected: int) -> Any:
    if resp.status_code not in expected:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path} -> {resp.status_code}: {resp.text[:500]}")
    return resp.json() if resp.content else None


def create_account(client: httpx.Client) -> dict[str, str]:
    """Register and sign in over HTTP; promote to enterprise admin; allow-list loopback."""
    email = f"eval-{uuid.uuid4().hex[:10]}@example.com"
    password = f"Eval-{uuid.uuid4().hex}"
    user = _check(client.post(f"{API}/auth/register", json={"email": email, "password": password, "name": "Eval"}), 201)
    _promote(user["id"])
    tokens = _check(client.post(f"{API}/auth/login", json={"email": email, "password": password}), 200)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    _check(
        client.post(f"{API}/configs", json={"key": "rate_limit.allow_ips", "value": ["127.0.0.1/32"]}, headers=headers),
        201,
    )
    deadline = time.monotonic() + 30
    while not _check(client.get(f"{API}/rate-limit/status", headers=headers), 200)["allow_listed"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the rate-limit allow list did not take effect within 30 s")
        time.sleep(0.5)
    return headers


def _promote(user_id: str) -> None:
    """Role admin, tier enterprise, straight in the database (what ``make admin`` does)."""
    import psycopg

    from claw_common.auth.accounts import forget_principal

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "UPDATE users SET role = 'admin', tier = 'enterprise', updated_at = now() WHERE id = %s", (user_id,)
        )
    forget_principal(user_id=user_id)


SUPERSEDED = {
    "return-policy-2023.md": "return-policy-2025.md",
    "warranty-2022.md": "warranty-2025.md",
    "price-list-2024.csv": "price-list-2025.csv",
}
"""Old versions in the corpus and the document that replaces each: what an owner marks with
``PATCH …/documents/{old}`` ``{"superseded_by": new}`` (unless ``--keep-old-versions``)."""


def ingest(
    client: httpx.Client,
    headers: dict[str, str],
    docs: list[CorpusDocument],
    timeout: float = 300,
    *,
    supersede: bool = True,
) -> Session:
    """A fresh knowledge base with every document, ingested and read back chunk by chunk.

    With ``supersede`` the old versions (``SUPERSEDED``) are then marked as replaced, through the API.
    """
    kb = _check(
        client.post(f"{API}/knowledge", json={"name": "eval", "description": "make eval"}, headers=headers), 201
    )
    kb_id = kb["id"]
    doc_ids: dict[str, str] = {}
    for doc in docs:
        if doc.via == "text":
            body = {"title": doc.title, "content": doc.data.decode("utf-8")}
            created = _check(client.post(f"{API}/knowledge/{kb_id}/documents", json=body, headers=headers), 202)
        else:
            suffix = "." + doc.filename.rsplit(".", 1)[-1]
            files = {"file": (doc.filename, doc.data, CONTENT_TYPES.get(suffix, "application/octet-stream"))}
            created = _check(
                client.post(
                    f"{API}/knowledge/{kb_id}/documents/upload", files=files, data={"title": doc.title}, headers=headers
                ),
                202,
            )
        doc_ids[doc.filename] = created["id"]

    deadline = time.monotonic() + timeout
    while True:
        statuses = {d["id"]: d for d in _documents(client, headers, kb_id)}
        failed = [d for d in statuses.values() if d["status"] == "failed"]
        if failed:
            raise RuntimeError("ingest failed: " + "; ".join(f"{d['title']}: {d['error']}" for d in failed))
        if all(statuses.get(i, {}).get("status") == "ready" for i in doc_ids.values()):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"documents not ready after {timeout:.0f}s")
        time.sleep(0.5)

    if supersede:
        for old, new in SUPERSEDED.items():
            if old in doc_ids and new in doc_ids:
                _check(
                    client.patch(
                        f"{API}/knowledge/{kb_id}/documents/{doc_ids[old]}",
                        json={"superseded_by": doc_ids[new]},
                        headers=headers,
                    ),
                    200,
                )

    chunks: dict[tuple[str, int], str] = {}
    for doc_id in doc_ids.values():
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = _check(
                client.get(f"{API}/knowledge/{kb_id}/documents/{doc_id}/chunks", params=params, headers=headers), 200
            )
            for item in page["items"]:
                chunks[(doc_id, item["chunk_index"])] = item["text"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return Session(client, headers, kb_id, doc_ids, chunks)


def _documents(client: httpx.Client, headers: dict[str, str], kb_id: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = _check(client.get(f"{API}/knowledge/{kb_id}/documents", params=params, headers=headers), 200)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def ask(session: Session, question: Question, mode: str) -> dict[str, Any]:
    """One question in one mode: the judged sources, ranks, top score and the answer."""
    # explain: every source's vector and keyword scores, kept in --json output for offline analysis.
    body: dict[str, Any] = {"question": question.question, "top_k": TOP_K, "answer": True, "explain": True}
    if mode != "default":
        body["mode"] = mode
    started = time.perf_counter()
    result = _check(
        session.client.post(f"{API}/knowledge/{session.kb_id}/query", json=body, headers=session.headers), 200
    )
    latency_ms = (time.perf_counter() - started) * 1000
    filename_of = session.filename_of
    sources = []
    for s in result["sources"]:
        filename = filename_of.get(s["document_id"])
        text = session.chunks.get((s["document_id"], s["chunk_index"]))
        sources.append(
            {
                "explain": s.get("explain"),
                "doc": filename,
                "chunk_index": s["chunk_index"],
                "score": s["score"],
                "relevant": is_relevant(question, filename, text),
                "gold_doc": any(filename == g.doc for g in question.gold),
                "distractor": filename is not None and filename == question.distractor,
                "snippet": s["snippet"],
            }
        )
    ranking = [s["relevant"] for s in sources]
    rank = first_hit_rank(ranking)
    answer = result.get("answer")
    distractor_rank = next((i for i, s in enumerate(sources, 1) if s["distractor"]), None)
    return {
        "id": question.id,
        "category": question.category,
        "question": question.question,
        "answerable": question.answerable,
        "mode": mode,
        "response_mode": result.get("mode"),
        "rank": rank,
        "ranking": ranking,
        "top_score": sources[0]["score"] if sources else 0.0,
        "no_sources": not sources,
        "sources": sources,
        "answer": answer,
        "model": result.get("model"),
        "no_answer": result.get("no_answer"),
        "answer_declines": bool(result["no_answer"])
        if result.get("no_answer") is not None
        else any(m in (answer or "") for m in DECLINE_MARKERS),
        "fact_in_answer": any(contains_fact(answer, g.fact) for g in question.gold) if question.answerable else None,
        "distractor_above_gold": distractor_rank is not None and (rank is None or distractor_rank < rank),
        "latency_ms": round(latency_ms, 1),
    }


def ask_all(session: Session, questions: list[Question], modes: list[str], workers: int = 2) -> list[dict[str, Any]]:
    """Every question in every mode (two at a time: the machine is small and shared)."""
    plan = [(q, m) for m in modes for q in questions]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda qm: ask(session, *qm), plan))
