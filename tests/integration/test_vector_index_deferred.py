"""Load first, index after: a large knowledge base's HNSW index is built once its loading has
settled (a delayed message on ingest's own queue), at once past the cap or without a queue."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.integration.test_vector_index import _kb_with_chunks
from tests.support.events import load_event


@pytest.fixture()
def small_thresholds(monkeypatch: pytest.MonkeyPatch) -> Any:
    from claw_ai.retrieval import vector_index

    monkeypatch.setattr(vector_index, "HNSW_MIN_CHUNKS", 30)
    monkeypatch.setattr(vector_index, "BUILD_AT_ONCE_CHUNKS", 1_000)
    return vector_index


@pytest.fixture()
def queue(sqs: Any, unique: str) -> Any:
    """A queue of the test's own (no poller reads it), standing for ingest's queue."""
    url = sqs.create_queue(QueueName=f"vector-index-{unique}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def _dim(db: Any) -> int:
    return int(
        db.execute(
            "SELECT atttypmod AS dim FROM pg_attribute WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'"
        ).fetchone()["dim"]
    )


def _loaded_kb(db: Any, n: int, *, seconds_ago: float = 0.0) -> tuple[str, str]:
    """A knowledge base with ``n`` chunks, its document ingested ``seconds_ago``; (kb id, document id)."""
    _, kb, _ = _kb_with_chunks(db, n, _dim(db), np.random.default_rng(n))
    doc = db.execute(
        "UPDATE documents SET ingested_at = now() - make_interval(secs => %s) WHERE kb_id = %s "
        "RETURNING id::text AS id",
        (seconds_ago, kb),
    ).fetchone()["id"]
    return kb, doc


def _receive(sqs: Any, url: str, wait_s: int = 8) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait_s
    got: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages") or []
        if got:
            return got
    return got


def _sqs_event(message: dict[str, Any]) -> dict[str, Any]:
    """The SQS event Lambda builds from a received message (the canonical record, this body)."""
    record = load_event("sqs_s3_test_event.json")["Records"][0]
    return {"Records": [{**record, "messageId": message["MessageId"], "body": message["Body"]}]}


def test_a_loading_knowledge_base_is_indexed_once_no_document_came_for_the_quiet_time(
    platform: Any, db: Any, sqs: Any, queue: str, small_thresholds: Any
) -> None:
    from ingest_app.vector_upkeep import index_after_ingest

    vector_index = small_thresholds
    kb, doc = _loaded_kb(db, 40)
    deps = SimpleNamespace(sqs=sqs, ingest_queue_url=queue, index_quiet_s=2)

    # When a document was just ingested into a knowledge base past the threshold
    index_after_ingest(doc, kb, deps)

    # Then no index is built yet, and a check is queued, delayed by the quiet time
    assert vector_index.index_state(db, kb) == "none"
    assert _receive(sqs, queue, wait_s=1) == []  # not visible before its delay
    (message,) = _receive(sqs, queue)
    assert json.loads(message["Body"]) == {"kind": "vector_index_due", "kb_id": kb}

    # When it arrives while another document has just come in, the ingest function leaves it
    # (that document's own check decides)
    db.execute("UPDATE documents SET ingested_at = now() WHERE kb_id = %s", (kb,))
    assert platform.lambdas["IngestFunction"].invoke(_sqs_event(message)) == {"batchItemFailures": []}
    assert vector_index.index_state(db, kb) == "none"

    # And when the last check finds the knowledge base quiet, it builds the index
    db.execute("UPDATE documents SET ingested_at = now() - interval '1 minute' WHERE kb_id = %s", (kb,))
    assert platform.lambdas["IngestFunction"].invoke(_sqs_event(message)) == {"batchItemFailures": []}
    assert vector_index.index_state(db, kb) == "valid"


def test_past_the_cap_or_without_a_queue_the_index_is_built_at_once(
    platform: Any, db: Any, sqs: Any, queue: str, small_thresholds: Any
) -> None:
    from ingest_app.vector_upkeep import index_after_ingest

    vector_index = small_thresholds
    deps = SimpleNamespace(sqs=sqs, ingest_queue_url=queue, index_quiet_s=2)

    # A knowledge base still loading but at the cap: built now, nothing queued
    big, big_doc = _loaded_kb(db, 1_000)
    index_after_ingest(big_doc, big, deps)
    assert vector_index.index_state(db, big) == "valid"

    # No queue to come back through (or a quiet time of 0): built now
    kb, doc = _loaded_kb(db, 40)
    index_after_ingest(doc, kb, SimpleNamespace(sqs=sqs, ingest_queue_url=None, index_quiet_s=2))
    assert vector_index.index_state(db, kb) == "valid"
    other, other_doc = _loaded_kb(db, 40)
    index_after_ingest(other_doc, other, SimpleNamespace(sqs=sqs, ingest_queue_url=queue, index_quiet_s=0))
    assert vector_index.index_state(db, other) == "valid"

    # A small one stays exact, with nothing queued
    small, small_doc = _loaded_kb(db, 10)
    index_after_ingest(small_doc, small, deps)
    assert vector_index.index_state(db, small) == "none"
    assert _receive(sqs, queue, wait_s=4) == []


def test_concurrent_checks_build_the_index_once(platform: Any, db: Any, small_thresholds: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    vector_index = small_thresholds
    kb, _ = _loaded_kb(db, 300, seconds_ago=60)

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: vector_index.build_when_quiet(kb, 30), range(4)))

    assert vector_index.index_state(db, kb) == "valid"
    assert outcomes.count("built") == 1 and set(outcomes) <= {"built", "building", "indexed"}
    assert vector_index.build_when_quiet(kb, 30) == "indexed"
