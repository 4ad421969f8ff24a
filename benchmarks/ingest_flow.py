"""Ingest through the real event flow with the real offline embedder: S3 drop → ``ready``.

The platform's S3 notification puts each upload's event on the SQS queue; the local event
source mapping (the template's batch size and batching window) polls it and invokes the ingest
function, as Lambda does. The function runs in this process, so its stages are timed by
wrapping them (benchmark-side only): queue (S3 → SQS → invocation), download, parse + chunk,
embed, segment, store (DELETE + COPY + mark ready, commit), vector-index upkeep.

* **Drop → ready**: documents of about 10 pages (12 sections, ~30 kB) dropped one at a time,
  each waited for until ``ready`` (p50 / p95 and the breakdown).
* **Bulk drop**: 100 documents put at once, time until all are ``ready``; against the
  embedder's own throughput on the same chunk texts (one thread, batches of 64), measured
  right after, so the pipeline's share of the embedder's ceiling is a ratio of the same run.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from benchmarks._common import Section, Target, percentile
from benchmarks.corpus import generate

TARGET_READY_P50_S = 1.0
TARGET_SHARE = 0.85
STAGES = ("queue", "download", "parse + chunk", "embed", "segment", "store", "index upkeep")


class StageClock:
    """Per-document stage times from wrapped ingest functions (the poller runs one batch at a time)."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.times: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()

    def wrap(self, module: Any, name: str, stage: str) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.current is not None:
                    self.times[self.current][stage] += time.perf_counter() - t0

        timed.__wrapped__ = original  # type: ignore[attr-defined]
        setattr(module, name, timed)

    def unwrap(self, module: Any, name: str) -> None:
        setattr(module, name, getattr(module, name).__wrapped__)


def _install(clock: StageClock) -> list[tuple[Any, str]]:
    import ingest_app.handler as handler
    import ingest_app.logic as logic
    import ingest_app.repository as repository

    original_record = handler.handle_record

    def handle_record(record: Any) -> None:
        body = record.body
        key = None
        for event in getattr(body, "Records", None) or []:
            key = event.s3.object.decoded_key
        if key is not None:
            clock.current = key
            clock.started[key] = time.time()
        original_record(record)

    handle_record.__wrapped__ = original_record  # type: ignore[attr-defined]
    handler.handle_record = handle_record
    patched = [(handler, "handle_record")]
    for module, name, stage in (
        (logic, "_download", "download"),
        (logic, "_parse_and_chunk", "parse + chunk"),
        (logic, "_embed", "embed"),
        (logic, "_segment", "segment"),
        (repository, "replace_chunks", "store"),
        (repository, "mark_ready", "store"),
        (handler, "index_after_ingest", "index upkeep"),
    ):
        clock.wrap(module, name, stage)
        patched.append((module, name))
    return patched


def _uninstall(patched: list[tuple[Any, str]]) -> None:
    for module, name in reversed(patched):
        setattr(module, name, getattr(module, name).__wrapped__)


def _kb() -> str:
    import psycopg

    from benchmarks.ingest import _owner_and_kb

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        return _owner_and_kb(conn)[1]


def _statuses(kb: str) -> dict[str, tuple[str, int]]:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        rows = conn.execute("SELECT s3_key, status, chunk_count FROM documents WHERE kb_id = %s", (kb,)).fetchall()
    return {r[0]: (r[1], r[2] or 0) for r in rows}


def _put(s3: Any, bucket: str, key: str, data: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/markdown")


def _wait_ready(kb: str, keys: set[str], timeout: float) -> dict[str, float]:
    """Poll until every key is ready (or failed); their first-seen ready times."""
    seen: dict[str, float] = {}
    deadline = time.time() + timeout
    while len(seen) < len(keys) and time.time() < deadline:
        now = time.time()
        for key, (status, _) in _statuses(kb).items():
            if key in keys and key not in seen and status in ("ready", "failed"):
                if status == "failed":
                    raise RuntimeError(f"{key} failed to ingest")
                seen[key] = now
        time.sleep(0.02)
    if len(seen) < len(keys):
        raise RuntimeError(f"only {len(seen)} of {len(keys)} documents became ready in {timeout:.0f} s")
    return seen


def _with_pollers(platform: Any) -> Any:
    class Pollers:
        def __enter__(self) -> None:
            platform._start_pollers()

        def __exit__(self, *exc: object) -> None:
            for poller in platform.pollers:
                poller.stop()
            for poller in platform.pollers:
                poller.join(timeout=5)
            platform.pollers.clear()

    return Pollers()


def _warm(platform: Any, s3: Any, bucket: str, kb: str) -> None:
    """One document first: the model, tokenizer and dictionary load once per environment."""
    name, data = generate(1, 3, seed=uuid.uuid4().int % 10**6)[0]
    key = f"kb/{kb}/warm-{name}"
    _put(s3, bucket, key, data)
    _wait_ready(kb, {key}, 120)


def drop_to_ready(section: Section, quick: bool, platform: Any) -> None:
    from claw_common.aws import aws_client

    s3, bucket = aws_client("s3"), os.environ["DOCUMENTS_BUCKET"]
    kb = _kb()
    docs = generate(5 if quick else 15, 40, seed=uuid.uuid4().int % 10**6)
    clock = StageClock()
    patched = _install(clock)
    totals: list[float] = []
    chunks: list[int] = []
    try:
        with _with_pollers(platform):
            _warm(platform, s3, bucket, kb)
            for name, data in docs:
                key = f"kb/{kb}/{name}"
                t0 = time.time()
                _put(s3, bucket, key, data)
                ready = _wait_ready(kb, {key}, 60)[key]
                totals.append(ready - t0)
                clock.times[key]["queue"] = max(0.0, clock.started.get(key, t0) - t0)
                chunks.append(_statuses(kb)[key][1])
                clock.times[key]["_total"] = ready - t0
    finally:
        _uninstall(patched)
    keys = [f"kb/{kb}/{n}" for n, _ in docs]
    rows = []
    for stage in STAGES:
        values = [clock.times[k].get(stage, 0.0) * 1000 for k in keys]
        rows.append([stage, statistics.median(values), percentile(values, 95)])
    accounted = [sum(clock.times[k].get(s, 0.0) for s in STAGES) for k in keys]
    rest = [(t - a) * 1000 for t, a in zip(totals, accounted, strict=True)]
    rows.append(
        ["other (status poll ≤ 20 ms, handler, S3 notification)", statistics.median(rest), percentile(rest, 95)]
    )
    ms = [t * 1000 for t in totals]
    rows.append(["**S3 drop → ready**", statistics.median(ms), percentile(ms, 95)])
    size_kb = statistics.mean(len(d) for _, d in docs) / 1024
    section.table(
        f"S3 drop → ready, one ~10-page document at a time ({len(docs)} documents, {size_kb:.0f} kB, "
        f"{statistics.median(chunks):.0f} chunks each), real offline embedder, ms",
        ["stage", "p50", "p95"],
        rows,
    )
    p50 = statistics.median(totals)
    embed_p50 = statistics.median([clock.times[k].get("embed", 0.0) * 1000 for k in keys])
    section.targets.append(
        Target(
            "S3 drop → ready (10-page document, locally)",
            f"p50 ≤ {TARGET_READY_P50_S:.0f} s",
            f"p50 {p50 * 1000:.0f} ms, p95 {percentile(totals, 95) * 1000:.0f} ms",
            p50 <= TARGET_READY_P50_S,
            ""
            if p50 <= TARGET_READY_P50_S
            else f"embedding {embed_p50:.0f} ms of the {p50 * 1000:.0f} ms ({embed_p50 / (p50 * 1000):.0%}) for "
            f"{statistics.median(chunks):.0f} chunks on this loaded 2-core machine; everything around it (queue, S3, "
            f"parsing, segmentation, COPY, index upkeep, polling) adds {p50 * 1000 - embed_p50:.0f} ms",
        )
    )


def bulk_drop(section: Section, quick: bool, platform: Any) -> None:
    from claw_ai.embeddings import OfflineEmbedder
    from claw_common.aws import aws_client

    s3, bucket = aws_client("s3"), os.environ["DOCUMENTS_BUCKET"]
    kb = _kb()
    n = 30 if quick else 100
    docs = generate(n, 8, seed=uuid.uuid4().int % 10**6)
    with _with_pollers(platform):
        _warm(platform, s3, bucket, kb)
        keys = {f"kb/{kb}/{name}" for name, _ in docs}
        t0 = time.time()
        for name, data in docs:
            _put(s3, bucket, f"kb/{kb}/{name}", data)
        ready = _wait_ready(kb, keys, 900)
    elapsed = max(ready.values()) - t0
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        texts = [
            r[0]
            for r in conn.execute(
                "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE c.kb_id = %s AND d.s3_key = ANY(%s)",
                (kb, list(keys)),
            ).fetchall()
        ]
    # The embedder alone on the very same texts, as the pipeline calls it (batches of 64, one thread).
    embedder = OfflineEmbedder()
    embedder.embed(["warm up"])
    t1 = time.perf_counter()
    embedder.embed(texts)
    alone = time.perf_counter() - t1
    pipeline_rate = len(texts) / elapsed
    embedder_rate = len(texts) / alone
    share = pipeline_rate / embedder_rate
    section.table(
        f"Bulk drop: {n} documents put at once, real offline embedder",
        ["measure", "value"],
        [
            ["documents", n],
            ["chunks", len(texts)],
            ["first put → last ready, s", elapsed],
            ["documents / min", n / elapsed * 60],
            ["chunks / s (pipeline)", pipeline_rate],
            ["chunks / s (embedder alone, same texts)", embedder_rate],
            ["pipeline / embedder", f"{share:.0%}"],
        ],
    )
    section.targets.append(
        Target(
            "ingest with the real offline embedder",
            f"≥ {TARGET_SHARE:.0%} of the embedder's own throughput",
            f"{share:.0%} ({pipeline_rate:.0f} vs {embedder_rate:.0f} chunks/s, {n} documents)",
            share >= TARGET_SHARE,
            ""
            if share >= TARGET_SHARE
            else "documents are processed one after another in each SQS batch (as one Lambda environment does), "
            "so S3 GET, parsing, segmentation, the COPY and the queue hand-offs sit between embedding calls; the "
            "benchmark's own 20 ms status polling and the rest of the shared machine compete for the 2 cores, "
            "and the embedder-alone figure is measured after, unloaded by the pipeline.",
        )
    )
