"""Each function prints the catalogued CloudWatch EMF metrics for a representative request.

Emulators don't turn EMF into metrics, so the tests read the EMF lines the handlers print.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.chat_support import Reply, insert_user, rest_event
from tests.conftest import wait_for


def _emf(text: str) -> list[dict[str, Any]]:
    """Every EMF document printed: {"name", "dimensions", "namespace", "value"} per metric."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            dims = directive["Dimensions"][0]
            for metric in directive["Metrics"]:
                found.append(
                    {
                        "name": metric["Name"],
                        "namespace": directive["Namespace"],
                        "dimensions": {d: doc[d] for d in dims},
                        # Powertools writes a list when one name was added several times.
                        "value": sum(v) if isinstance(v := doc[metric["Name"]], list) else v,
                    }
                )
    return found


def _named(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [m for m in found if m["name"] == name]


def test_api_requests_emit_requests_latency_by_route_in_the_clawai_namespace(platform: Any, capfd: Any) -> None:
    capfd.readouterr()
    resp = platform.lambdas["ConfigFunction"].invoke(
        {**json.loads(open("tests/events/apigw_rest_get_health.json").read())}
    )
    assert resp["statusCode"] == 200
    found = _emf(capfd.readouterr().out)
    requests = _named(found, "Requests")
    assert requests and requests[0]["namespace"] == "ClawAI"
    assert requests[0]["dimensions"]["route"] == "GET /api/v1/health"
    assert _named(found, "Latency")[0]["value"] >= 0


def test_chat_emits_tokens_and_cost_for_the_spend_alarm_and_by_model(platform: Any, db: Any, capfd: Any) -> None:
    user = insert_user(db)
    chat = platform.lambdas["ChatFunction"]  # through the runtime: one invocation at a time, as on Lambda
    conv = Reply(chat.invoke(rest_event("POST", "/api/v1/conversations", user=user, body={"title": "emf"}))).json()
    capfd.readouterr()
    reply = Reply(
        chat.invoke(rest_event("POST", f"/api/v1/conversations/{conv['id']}/chat", user=user, body={"message": "hi"}))
    )
    assert reply.status_code == 200
    found = _emf(capfd.readouterr().out)
    tokens = _named(found, "TokensUsed")
    cost = _named(found, "Cost")
    # The alarm reads the service-only series; the dashboard splits by model.
    assert any(set(m["dimensions"]) == {"service"} for m in tokens + cost)
    assert any(m["dimensions"].get("model") == reply.json()["model"] for m in tokens)
    assert (
        sum(m["value"] for m in tokens if set(m["dimensions"]) == {"service"}) == reply.json()["usage"]["total_tokens"]
    )
    assert _named(found, "CacheMiss")


def _ingest_new_version(platform: Any, s3: Any, db: Any, key: str, body: bytes) -> None:
    """Put a new version and wait until the platform's SQS event source has ingested it."""
    version = s3.put_object(Bucket=platform.stack.bucket_name, Key=key, Body=body)["VersionId"]
    wait_for(
        lambda: db.execute(
            "SELECT 1 FROM documents WHERE s3_key = %s AND s3_version_id = %s AND status IN ('ready', 'failed')",
            (key, version),
        ).fetchone(),
        timeout=30,
    )


def _kb_key(db: Any, suffix: str) -> str:
    user = insert_user(db)
    kb = db.execute(
        "INSERT INTO knowledge_bases (owner_id, name) VALUES (%s, 'emf') RETURNING id::text AS id", (user.id,)
    ).fetchone()["id"]
    return f"kb/{kb}/{uuid.uuid4().hex}{suffix}"


def test_ingest_emits_documents_chunks_and_embedding_latency(platform: Any, s3: Any, db: Any, capfd: Any) -> None:
    key = _kb_key(db, ".md")
    capfd.readouterr()
    _ingest_new_version(platform, s3, db, key, "# 指标\n\nEvery document counts. 每个文档都计数。".encode())
    found = _emf(capfd.readouterr().out)
    names = {m["name"] for m in found}
    assert {"ObjectEventsReceived", "DocumentsIngested", "ChunksWritten", "EmbeddingLatency"} <= names
    assert _named(found, "ChunksWritten")[0]["value"] >= 1
    assert all(m["namespace"] == "ClawAI" for m in found)


def test_a_failed_document_counts_as_an_ingest_failure_with_its_reason(
    platform: Any, s3: Any, db: Any, capfd: Any
) -> None:
    key = _kb_key(db, ".pdf")
    capfd.readouterr()
    _ingest_new_version(platform, s3, db, key, b"%PDF-1.7 this is not a real pdf")
    found = _named(_emf(capfd.readouterr().out), "IngestFailures")
    assert any(set(m["dimensions"]) == {"service"} for m in found)
    assert any(m["dimensions"].get("reason") == "corrupt" for m in found)
