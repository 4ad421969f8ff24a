"""Work ahead (ingest_app.ahead): what a batch's next records get prepared is exactly what they would compute.

S3 is the platform's emulator (a bucket of its own, without notifications; not ``mock_aws``,
whose exit would reset the emulator's state under the session's platform); parsing, chunking,
the hash embedder and jieba segmentation are the real ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.corpus import generate
from claw_ai.embeddings import HashEmbedder
from ingest_app.ahead import WorkAhead
from ingest_app.copy_rows import encode_rows
from ingest_app.parsers import limits_for_tier
from ingest_app.steps import embed, parse_and_chunk, segment

BUCKET = "ahead-tests"


@pytest.fixture()
def s3(platform: Any) -> Iterator[Any]:
    from claw_common.aws import aws_client

    client = aws_client("s3")
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    yield client


def _put_documents(s3: Any, count: int) -> list[tuple[str, bytes]]:
    kb = uuid.uuid4()
    out = []
    for name, data in generate(count, 6, seed=11):
        key = f"kb/{kb}/{name}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType="text/markdown")
        out.append((key, data))
    return out


def _document(key: str) -> dict[str, Any]:
    filename = key.rsplit("/", 1)[1]
    return {"id": key, "filename": filename, "title": filename}


def test_the_next_records_get_the_chunks_vectors_and_search_texts_they_would_compute(s3: Any) -> None:
    embedder = HashEmbedder(64)
    limits = limits_for_tier("pro")
    docs = _put_documents(s3, 4)
    ahead = WorkAhead(s3, embedder, [(BUCKET, key) for key, _ in docs])
    try:
        # The first record has fetched its own object and knows its limits: the rest is prepared ahead.
        assert ahead.take(BUCKET, docs[0][0]) is None
        ahead.start(limits)
        for key, data in docs[1:]:
            prepared = ahead.take(BUCKET, key)
            assert prepared is not None and prepared.data == data
            head = s3.head_object(Bucket=BUCKET, Key=key)
            assert prepared.head["etag"] == head["ETag"].strip('"') and prepared.head["size"] == len(data)
            document = _document(key)
            assert prepared.fits(document, limits, {}, [])
            chunks, parsed = parse_and_chunk(data, document, {"content_type": "text/markdown"}, limits)
            texts = [c.text for c in chunks]
            assert prepared.chunks == chunks
            assert prepared.parsed.parser == parsed.parser and prepared.parsed.page_count == parsed.page_count
            assert [v.tobytes() for v in prepared.vectors or []] == [v.tobytes() for v in embed(embedder, texts)]
            assert prepared.search_texts == segment(texts)
            assert prepared.rows == encode_rows(chunks, segment(texts), embed(embedder, texts))
    finally:
        ahead.close()


def test_a_preparation_made_from_other_inputs_is_not_used(s3: Any) -> None:
    limits = limits_for_tier("pro")
    docs = _put_documents(s3, 2)
    ahead = WorkAhead(s3, HashEmbedder(64), [(BUCKET, key) for key, _ in docs])
    try:
        ahead.take(BUCKET, docs[0][0])
        ahead.start(limits)
        prepared = ahead.take(BUCKET, docs[1][0])
    finally:
        ahead.close()
    assert prepared is not None
    document = _document(docs[1][0])
    assert prepared.fits(document, limits, {}, [])
    # A title given at upload, other tier limits, or OCR text stored for the version: the record computes.
    assert not prepared.fits({**document, "title": "Price list 2026"}, limits, {}, [])
    assert not prepared.fits(document, limits_for_tier("free"), {}, [])
    assert not prepared.fits(document, dataclasses.replace(limits, max_pages=3), {}, [])
    assert not prepared.fits(document, limits, {1: "scanned text"}, [])
    assert not prepared.fits(document, limits, {}, ["page 2 could not be read"])


def test_records_that_stop_early_do_not_block_the_ones_after_them(s3: Any) -> None:
    limits = limits_for_tier("pro")
    docs = _put_documents(s3, 5)
    ahead = WorkAhead(s3, HashEmbedder(64), [(BUCKET, key) for key, _ in docs], window=2)
    try:
        ahead.take(BUCKET, docs[0][0])
        ahead.start(limits)
        # Records 1 and 2 stop before taking theirs (a duplicate, a missing knowledge base): what was
        # prepared for them is dropped; record 3 (beyond the window) does its own work, and the
        # one after it is prepared again.
        assert ahead.take(BUCKET, docs[3][0]) is None
        assert ahead.take(BUCKET, docs[1][0]) is None  # passed: never prepared again
        last = ahead.take(BUCKET, docs[4][0])
        assert last is not None and last.data == docs[4][1] and last.chunks
        # An object not in the batch, or gone from the bucket, gets nothing.
        assert ahead.take(BUCKET, "kb/elsewhere/x.md") is None
    finally:
        ahead.close()


def test_a_missing_object_or_a_file_that_does_not_parse_is_left_to_its_record(s3: Any) -> None:
    kb = uuid.uuid4()
    gone, broken = f"kb/{kb}/gone.md", f"kb/{kb}/broken.pdf"
    s3.put_object(Bucket=BUCKET, Key=broken, Body=b"%PDF-1.7\n" + b"\x00garbage" * 50)
    ahead = WorkAhead(s3, HashEmbedder(64), [(BUCKET, "first"), (BUCKET, gone), (BUCKET, broken)])
    try:
        ahead.take(BUCKET, "first")
        ahead.start(limits_for_tier("pro"))
        assert ahead.take(BUCKET, gone) is None
        prepared = ahead.take(BUCKET, broken)
    finally:
        ahead.close()
    # The HEAD and bytes are kept, no chunks: the record parses again and fails with the reason.
    assert prepared is not None and prepared.chunks is None and prepared.data is not None
    assert not prepared.fits(_document(broken), limits_for_tier("pro"), {}, [])


def test_an_object_over_the_prefetch_size_is_only_looked_at_and_its_head_is_the_heads(s3: Any) -> None:
    from ingest_app.objects import head_object

    docs = _put_documents(s3, 3)
    small = len(docs[2][1])
    ahead = WorkAhead(s3, HashEmbedder(64), [(BUCKET, key) for key, _ in docs], max_bytes=small)
    try:
        ahead.take(BUCKET, docs[0][0])
        ahead.start(limits_for_tier("pro"))
        larger = [ahead.take(BUCKET, key) for key, data in docs[1:]]
    finally:
        ahead.close()
    for prepared, (key, data) in zip(larger, docs[1:], strict=True):
        # One GET gives what a HEAD gives (version, ETag, size, type); the body is read only when it fits.
        assert prepared is not None and prepared.head == head_object(s3, BUCKET, key)
        if len(data) > small:
            assert prepared.data is None and prepared.chunks is None
        else:
            assert prepared.data == data and prepared.chunks


def test_a_claim_gives_the_head_before_the_document_is_prepared(s3: Any) -> None:
    import threading

    release = threading.Event()

    class Held(HashEmbedder):
        """An embedder that waits for the test: the preparation is still running when the head is read."""

        def embed(self, texts: Any) -> Any:
            release.wait(10)
            return super().embed(texts)

    docs = _put_documents(s3, 1)
    ahead = WorkAhead(s3, Held(64), [(BUCKET, key) for key, _ in docs])
    try:
        ahead.start(limits_for_tier("pro"))
        claim = ahead.claim(BUCKET, docs[0][0])
        assert claim is not None
        head = claim.head()
        assert head is not None and head["size"] == len(docs[0][1])
        release.set()
        prepared = claim.prepared()
    finally:
        release.set()
        ahead.close()
    assert prepared is not None and prepared.head == head and prepared.rows


def test_an_invocation_prepares_its_first_document_ahead_too(
    platform: Any, api: Any, s3: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest_app.logic as logic
    from tests.auth_helpers import new_user
    from tests.knowledge_helpers import create_kb, event_for_object
    from tests.support.events import sqs_event

    kb = create_kb(api, new_user(api), "work ahead")
    keys = []
    for name, data in generate(2, 4, seed=5):
        keys.append(f"kb/{kb}/{name}")
        s3.put_object(Bucket=BUCKET, Key=keys[-1], Body=data, ContentType="text/markdown")
    on_the_record: list[str] = []
    parse = logic.parse_and_chunk

    def counted(*args: Any, **kwargs: Any) -> Any:
        on_the_record.append(args[1]["filename"])
        return parse(*args, **kwargs)

    monkeypatch.setattr(logic, "parse_and_chunk", counted)

    result = platform.lambdas["IngestFunction"].invoke(sqs_event([event_for_object(s3, BUCKET, k) for k in keys]))

    assert result == {"batchItemFailures": []}
    rows = db.execute("SELECT status, chunk_count FROM documents WHERE kb_id = %s", (kb,)).fetchall()
    assert len(rows) == 2 and all(r["status"] == "ready" and r["chunk_count"] > 0 for r in rows)
    # Both records, the batch's first included, used what the work ahead prepared.
    assert on_the_record == []
