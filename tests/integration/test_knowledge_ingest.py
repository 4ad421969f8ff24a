"""Documents through the real S3 → SQS → ingest path: every format, duplicates, versions,
deletes, odd keys, poison files and a record that keeps failing."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from claw_local.lambda_runtime import LambdaContext
from tests.auth_helpers import new_user
from tests.conftest import wait_for
from tests.knowledge_helpers import (
    API,
    chunk_rows,
    create_kb,
    encrypt_pdf,
    event_for_object,
    make_csv,
    make_docx,
    make_html,
    make_pdf,
    make_xlsx,
    make_zip_bomb_docx,
    s3_event,
    wait_settled,
)
from tests.support.events import sqs_event

MB = 1024 * 1024


@pytest.fixture()
def owner(api: Any) -> Any:
    # A fresh user per test: the knowledge route group allows 30 requests a minute per user.
    return new_user(api)


@pytest.fixture()
def kb(api: Any, owner: Any) -> str:
    return create_kb(api, owner, "ingest tests")


def _bucket(platform: Any) -> str:
    return platform.stack.bucket_name


def _invoke_ingest(platform: Any, event: dict[str, Any]) -> dict[str, Any]:
    return platform.lambdas["IngestFunction"].invoke(event)


def _query(api: Any, user: Any, kb_id: str, question: str, **body: Any) -> list[dict[str, Any]]:
    resp = api.post(f"{API}/knowledge/{kb_id}/query", json={"question": question, **body}, headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["sources"]


# Each file carries a distinctive fact; the question asks for it in other words.
FORMATS: dict[str, tuple[bytes, str, str]] = {
    "en.pdf": (
        make_pdf([["Warranty terms.", "The espresso machine carries a 24-month warranty on the boiler."]]),
        "how long is the boiler warranty of the espresso machine",
        "24-month",
    ),
    "zh.pdf": (
        make_pdf([["保修条款。", "咖啡机的锅炉享有二十四个月保修。"]]),
        "咖啡机锅炉保修多久",
        "二十四个月",
    ),
    "en.docx": (
        make_docx("Shipping", ["Orders above 80 dollars ship free of charge to Canada."]),
        "is shipping to Canada free",
        "Canada",
    ),
    "zh.docx": (
        make_docx("配送说明", ["订单满八十元即可免费配送到新疆。"]),
        "新疆配送免费吗",
        "新疆",
    ),
    "en.xlsx": (
        make_xlsx(["Plan", "Monthly price"], [["Starter", "9 USD"], ["Falcon Enterprise", "499 USD"]]),
        "monthly price of the Falcon Enterprise plan",
        "499",
    ),
    "zh.xlsx": (
        make_xlsx(["套餐", "月费"], [["基础版", "29元"], ["旗舰版", "899元"]]),
        "旗舰版每月多少钱",
        "899",
    ),
    "en.csv": (
        make_csv(["City", "Office hours"], [["Oslo", "8-16"], ["Lisbon", "10-19"]]),
        "office hours in Lisbon",
        "10-19",
    ),
    "zh.csv": (
        make_csv(["城市", "营业时间"], [["成都", "九点到十八点"], ["拉萨", "十点到十七点"]]),
        "拉萨的营业时间",
        "十点到十七点",
    ),
    "en.html": (
        make_html("Help", "Password reset", "To reset a password, open Settings and choose Security keys."),
        "how do I reset my password",
        "Security keys",
    ),
    "zh.html": (
        make_html("帮助", "重置密码", "重置密码请打开设置并选择安全密钥。"),
        "怎么重置密码",
        "安全密钥",
    ),
    "en.md": (
        b"# Returns\n\nUnopened items can be returned within 45 days for store credit.\n",
        "return window for unopened items",
        "45 days",
    ),
    "zh.md": ("# 退货\n\n未拆封的商品可在四十五天内退货换取积分。\n".encode(), "未拆封商品退货期限", "四十五天"),
    "en.txt": (
        b"Support line.\n\nThe support hotline answers on weekdays from 7am to 11pm.\n",
        "when is the support hotline open",
        "7am to 11pm",
    ),
    "zh.txt": (
        "客服热线。\n\n客服热线工作日早上七点到晚上十一点接听。\n".encode(),
        "客服热线几点接听",
        "七点到晚上十一点",
    ),
    "en.json": (
        b'{"faq": {"question": "Do you ship to Iceland?", "answer": "Yes, Iceland deliveries take 9 days."}}',
        "delivery time to Iceland",
        "9 days",
    ),
    "zh.json": (
        '{"常见问题": {"问题": "能寄到西藏吗？", "回答": "可以，西藏配送需要十二天。"}}'.encode(),
        "西藏配送需要几天",
        "十二天",
    ),
}


def test_every_format_in_chinese_and_english_is_ingested_and_queryable(
    platform: Any, api: Any, db: Any, s3: Any, owner: Any, kb: str
) -> None:
    # Given one file per format and language dropped straight into the bucket
    keys = {name: f"kb/{kb}/formats/{name}" for name in FORMATS}
    for name, (data, _, _) in FORMATS.items():
        s3.put_object(Bucket=_bucket(platform), Key=keys[name], Body=data)

    # Then each becomes a ready document of the knowledge base's owner
    rows = {name: wait_settled(db, key=key, timeout=60) for name, key in keys.items()}
    failed = {n: r["error"] for n, r in rows.items() if r["status"] != "ready"}
    assert not failed, failed
    assert all(str(r["owner_id"]) == owner.id and r["chunk_count"] >= 1 for r in rows.values())
    assert rows["en.pdf"]["parser"] == "pypdf" and rows["zh.docx"]["file_type"] == "docx"

    # And a paraphrased question finds the passage with the fact
    misses = {}
    for name, (_, question, fact) in FORMATS.items():
        sources = _query(api, owner, kb, question, top_k=3)
        if not any(s["document_id"] == str(rows[name]["id"]) and fact in s["snippet"] for s in sources):
            misses[name] = [(s["title"], s["snippet"][:60]) for s in sources]
    assert not misses, misses


def test_the_same_event_five_times_in_a_row_and_concurrently_leaves_one_set_of_chunks(
    platform: Any, db: Any, s3: Any, kb: str
) -> None:
    from ingest_app.handler import lambda_handler

    key = f"kb/{kb}/dup/manual.md"
    body = "# Manual\n\n" + "\n\n".join(f"Paragraph {i}: the gear ratio of model {i} is {i}:7." for i in range(40))
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=body.encode())
    first = wait_settled(db, key=key)
    assert first["status"] == "ready"
    chunks_before = chunk_rows(db, str(first["id"]))
    event = sqs_event([event_for_object(s3, _bucket(platform), key)])

    # When the same event is delivered five more times in a row
    for _ in range(5):
        assert _invoke_ingest(platform, event) == {"batchItemFailures": []}

    # And five times at once (as five Lambda environments would)
    results: list[Any] = []

    def deliver() -> None:
        context = LambdaContext("claw-ai-local-ingest", 2048, "arn:aws:lambda:us-east-1:1:function:x", "id", 120)
        results.append(lambda_handler(event, context))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # Then nothing was re-ingested: same chunks, same ingestion time
    assert results == [{"batchItemFailures": []}] * 5
    after = db.execute("SELECT * FROM documents WHERE id = %s", (first["id"],)).fetchone()
    assert after["ingested_at"] == first["ingested_at"] and after["status"] == "ready"
    assert chunk_rows(db, str(first["id"])) == chunks_before
    assert len(chunks_before) == after["chunk_count"]
    deliveries = db.execute(
        "SELECT sum(deliveries) AS n FROM ingest_objects WHERE object_key = %s AND etag = %s",
        (key, first["s3_etag"]),
    ).fetchone()["n"]
    assert deliveries >= 11


def test_concurrent_first_deliveries_ingest_once(platform: Any, db: Any, s3: Any, kb: str) -> None:
    """Five copies of a *new* object's event at once: one ingests, the others wait and find it done."""
    from ingest_app.handler import lambda_handler

    # An object outside the notification's view would be ideal; instead the event is replayed
    # right after the put, racing the platform's own delivery.
    key = f"kb/{kb}/race/notes.txt"
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=("Race notes. " * 200).encode())
    event = sqs_event([event_for_object(s3, _bucket(platform), key)])
    results: list[Any] = []

    def deliver() -> None:
        context = LambdaContext("claw-ai-local-ingest", 2048, "arn:aws:lambda:us-east-1:1:function:x", "id", 120)
        results.append(lambda_handler(event, context))

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    row = wait_settled(db, key=key)
    assert results == [{"batchItemFailures": []}] * 5
    assert row["status"] == "ready"
    indexes = [c["chunk_index"] for c in chunk_rows(db, str(row["id"]))]
    assert indexes == list(range(row["chunk_count"]))


def test_a_new_version_replaces_the_chunks_and_a_late_old_event_does_not_overwrite_it(
    platform: Any, api: Any, db: Any, s3: Any, owner: Any, kb: str
) -> None:
    key = f"kb/{kb}/versions/policy.md"
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=b"# Policy\n\nThe deposit is 100 euros.\n")
    v1 = wait_settled(db, key=key)
    old_event = sqs_event([event_for_object(s3, _bucket(platform), key)])

    # When a new version is written
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=b"# Policy\n\nThe deposit is 250 euros.\n")
    v2 = wait_for(
        lambda: (r := wait_settled(db, key=key)) and r["s3_etag"] != v1["s3_etag"] and r["status"] == "ready" and r,
        timeout=30,
    )

    # Then only the new text is stored
    texts = [c["text"] for c in chunk_rows(db, str(v2["id"]))]
    assert any("250 euros" in t for t in texts) and not any("100 euros" in t for t in texts)

    # And the first version's event arriving late changes nothing
    assert _invoke_ingest(platform, old_event) == {"batchItemFailures": []}
    again = db.execute("SELECT * FROM documents WHERE id = %s", (v2["id"],)).fetchone()
    assert again["s3_etag"] == v2["s3_etag"] and again["ingested_at"] == v2["ingested_at"]
    assert [c["text"] for c in chunk_rows(db, str(v2["id"]))] == texts
    assert "250 euros" in _query(api, owner, kb, "how much is the deposit", top_k=1)[0]["snippet"]


def test_an_older_sequencer_is_ignored(platform: Any, db: Any, s3: Any, kb: str) -> None:
    key = f"kb/{kb}/seq/a.txt"
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=b"Sequencer test text.")
    row = wait_settled(db, key=key)
    # Given the document has applied an event with a (real-S3-style) sequencer
    db.execute("UPDATE documents SET s3_sequencer = '0055AED6DCD90281E5', s3_etag = 'x' WHERE id = %s", (row["id"],))
    event = sqs_event([event_for_object(s3, _bucket(platform), key, sequencer="0055AED6DCD90281E4")])

    # When an event of the same object with a smaller sequencer arrives
    assert _invoke_ingest(platform, event) == {"batchItemFailures": []}

    # Then it was not applied
    assert db.execute("SELECT s3_etag FROM documents WHERE id = %s", (row["id"],)).fetchone()["s3_etag"] == "x"


@pytest.mark.parametrize(
    "filename",
    ["年度 报告 Q1+Q2 100%.md", "space name.txt", "plus+sign.txt", "percent%41.txt", "产品手册.txt"],
)
def test_keys_with_spaces_plus_percent_and_chinese(platform: Any, db: Any, s3: Any, kb: str, filename: str) -> None:
    key = f"kb/{kb}/odd/{filename}"
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=f"# 文件\n\n{filename} 的内容 content.".encode())
    row = wait_settled(db, key=key)
    assert row["status"] == "ready", row["error"]
    assert row["filename"] == filename and row["s3_key"] == key


def test_deleting_the_object_removes_the_document_and_its_chunks(platform: Any, db: Any, s3: Any, kb: str) -> None:
    key = f"kb/{kb}/del/gone.txt"
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=b"Soon gone.")
    row = wait_settled(db, key=key)
    assert chunk_rows(db, str(row["id"]))

    # When every version of the object is deleted (the bucket is versioned)
    for version in s3.list_object_versions(Bucket=_bucket(platform), Prefix=key)["Versions"]:
        s3.delete_object(Bucket=_bucket(platform), Key=key, VersionId=version["VersionId"])

    # Then its ObjectRemoved event removes the document and its chunks
    wait_for(lambda: db.execute("SELECT 1 FROM documents WHERE id = %s", (row["id"],)).fetchone() is None)
    assert chunk_rows(db, str(row["id"])) == []


def test_a_delete_marker_removes_the_document_but_deleting_an_old_version_does_not(
    platform: Any, db: Any, s3: Any, kb: str
) -> None:
    bucket = _bucket(platform)
    key = f"kb/{kb}/del/marker.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"Version one.")
    first = wait_settled(db, key=key)
    old_version = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
    s3.put_object(Bucket=bucket, Key=key, Body=b"Version two.")
    wait_for(lambda: (r := wait_settled(db, key=key)) and r["s3_etag"] != first["s3_etag"])

    # When an old version is deleted, the current one still exists: the document stays
    s3.delete_object(Bucket=bucket, Key=key, VersionId=old_version)
    removed_old = s3_event(bucket, key, etag="x", size=0, version_id=old_version, event_name="ObjectRemoved:Delete")
    assert _invoke_ingest(platform, sqs_event([removed_old])) == {"batchItemFailures": []}
    assert db.execute("SELECT status FROM documents WHERE id = %s", (first["id"],)).fetchone()["status"] == "ready"

    # When a plain DELETE leaves a delete marker (S3 sends ObjectRemoved:DeleteMarkerCreated;
    # the emulator sends nothing, so the event is delivered here as S3 would)
    marker = s3.delete_object(Bucket=bucket, Key=key)["VersionId"]
    event = s3_event(bucket, key, etag="", size=0, version_id=marker, event_name="ObjectRemoved:DeleteMarkerCreated")
    assert _invoke_ingest(platform, sqs_event([event])) == {"batchItemFailures": []}

    # Then the document and its chunks are gone
    assert db.execute("SELECT 1 FROM documents WHERE id = %s", (first["id"],)).fetchone() is None
    assert chunk_rows(db, str(first["id"])) == []


def test_poison_files_fail_alone_with_a_reason(platform: Any, db: Any, s3: Any, kb: str) -> None:
    bucket = _bucket(platform)
    good = make_pdf([["A perfectly fine page about hydraulic pumps."]])
    files = {
        "good.pdf": good,
        "corrupt.pdf": b"%PDF-1.7\n" + b"\x00garbage" * 500,
        "encrypted.pdf": encrypt_pdf(good),
        "bomb.docx": make_zip_bomb_docx(),
    }
    keys = {name: f"kb/{kb}/poison/{name}" for name in files}
    # Put the objects, then deliver all four events in ONE batch to the handler
    for name, data in files.items():
        s3.put_object(Bucket=bucket, Key=keys[name], Body=data)
    batch = sqs_event([event_for_object(s3, bucket, keys[n]) for n in files], ids=list(files))

    # Then no record is retried (poison files are final), only the poison documents failed
    assert _invoke_ingest(platform, batch) == {"batchItemFailures": []}
    rows = {n: wait_settled(db, key=k) for n, k in keys.items()}
    assert rows["good.pdf"]["status"] == "ready"
    assert rows["corrupt.pdf"]["status"] == "failed" and "corrupt" in rows["corrupt.pdf"]["error"]
    assert rows["encrypted.pdf"]["status"] == "failed" and "encrypted" in rows["encrypted.pdf"]["error"]
    assert rows["bomb.docx"]["status"] == "failed" and "zip bomb" in rows["bomb.docx"]["error"]
    for name in ("corrupt.pdf", "encrypted.pdf", "bomb.docx"):
        assert chunk_rows(db, str(rows[name]["id"])) == []


def test_an_oversized_file_fails_from_its_head_without_being_downloaded(
    platform: Any, db: Any, s3: Any, kb: str
) -> None:
    # Free tier: 10 MB. The object is 11 MB of text.
    key = f"kb/{kb}/big/huge.txt"
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=b"a" * (11 * MB))
    row = wait_settled(db, key=key)
    assert row["status"] == "failed" and row["error_code"] == "too_large"
    assert "too large" in row["error"] and "10 MB" in row["error"]
    assert row["size"] == 11 * MB and row["chunk_count"] == 0


def test_a_record_that_keeps_failing_reaches_the_dlq_and_its_document_reads_failed(
    platform: Any, db: Any, s3: Any, sqs: Any, kb: str
) -> None:
    # Given the database refuses this knowledge base's chunks (a real error from PostgreSQL,
    # as a full disk or a failover would give) — nothing else is affected
    trigger = f"fail_{uuid.uuid4().hex[:8]}"
    db.execute(
        f"""CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'simulated storage failure'; END $$"""
    )
    db.execute(
        f"""CREATE TRIGGER {trigger} BEFORE INSERT ON chunks FOR EACH ROW
            WHEN (NEW.kb_id = '{kb}'::uuid) EXECUTE FUNCTION {trigger}()"""
    )
    dlq_url = next(platform.queues[s.dlq].url for s in platform.stack.queues.values() if s.dlq)
    queue = next(q for q in platform.queues.values() if q.max_receive_count)
    key = f"kb/{kb}/flaky/doc.txt"
    try:
        s3.put_object(Bucket=_bucket(platform), Key=key, Body=b"Text that cannot be stored right now.")

        # Then after maxReceiveCount deliveries the message is in the dead-letter queue
        def in_dlq() -> dict[str, Any] | None:
            resp = sqs.receive_message(
                QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"]
            )
            for message in resp.get("Messages") or []:
                if key.split("/")[-1] in message["Body"] and kb in message["Body"]:
                    return message
            return None

        message = wait_for(in_dlq, timeout=40, interval=0.2)
        assert int(message["Attributes"]["ApproximateReceiveCount"]) >= queue.max_receive_count
    finally:
        db.execute(f"DROP TRIGGER {trigger} ON chunks")
        db.execute(f"DROP FUNCTION {trigger}()")

    # And the document reads failed with a readable, temporary reason and no chunks
    row = db.execute("SELECT * FROM documents WHERE s3_key = %s", (key,)).fetchone()
    assert row["status"] == "failed" and row["error_code"] == "temporary"
    assert "temporary error" in row["error"] and "storing chunks" in row["error"]
    assert chunk_rows(db, str(row["id"])) == []
    deliveries = db.execute("SELECT deliveries FROM ingest_objects WHERE object_key = %s", (key,)).fetchone()[
        "deliveries"
    ]
    assert deliveries >= queue.max_receive_count


def test_files_outside_a_known_knowledge_base_are_ignored(platform: Any, db: Any, s3: Any) -> None:
    missing_kb = str(uuid.uuid4())
    key = f"kb/{missing_kb}/orphan.txt"
    s3.put_object(Bucket=_bucket(platform), Key=key, Body=b"nobody owns this")
    wait_for(lambda: db.execute("SELECT 1 FROM ingest_objects WHERE object_key = %s", (key,)).fetchone())
    assert db.execute("SELECT 1 FROM documents WHERE s3_key = %s", (key,)).fetchone() is None
