"""Scanned PDFs and pictures of documents, dropped into the bucket or uploaded, through the real
platform: ingest → OCR function (page ranges on its own queue) → ingest assembles → search.

The test platform sends 3 pages per OCR message (``OCR_PAGES_PER_MESSAGE`` in tests/conftest.py),
so a 5-page scan already takes two OCR invocations and a 12-page one four.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.auth_helpers import new_user
from tests.conftest import wait_for
from tests.knowledge_helpers import API, create_kb, wait_settled
from tests.ocr_helpers import encoded, image_only_pdf, manual_page, photographed, render_page

PAGE_FOUR_ANSWER = [
    "故障代码E4096表示净水滤芯已经失效，请在七天内更换。",
    "Error code E4096 means the water filter cartridge has expired.",
]


@pytest.fixture()
def alice(api: Any) -> Any:
    return new_user(api)


def _document(api: Any, user: Any, kb: str, document_id: str) -> dict[str, Any]:
    resp = api.get(f"{API}/knowledge/{kb}/documents/{document_id}", headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_scanned_pdf_and_pictures_become_searchable_with_their_page(
    platform: Any, api: Any, db: Any, s3: Any, alice: Any
) -> None:
    kb = create_kb(api, alice, "scans")
    ocr_before = platform.lambdas["OcrFunction"].invocations

    # Given a 5-page bilingual manual that is only pictures (no text layer), page 4 telling what E4096 means
    pages = [manual_page(n) for n in range(1, 6)]
    pages[3] = pages[3][:12] + PAGE_FOUR_ANSWER + pages[3][12:]
    scan = image_only_pdf([render_page(lines) for lines in pages])
    pdf_key = f"kb/{kb}/scans/售后手册 scan.pdf"
    # and a phone photo of a receipt-like notice as PNG
    photo = encoded(
        photographed(
            render_page(
                ["门店公告 Store notice", "周一至周五营业时间为早上九点到晚上八点。", "Opening hours: 9am to 8pm."]
            )
        ),
        "PNG",
    )
    png_key = f"kb/{kb}/photos/store notice.png"

    # When both are dropped into the bucket
    bucket = platform.stack.bucket_name
    s3.put_object(Bucket=bucket, Key=pdf_key, Body=scan, ContentType="application/pdf")
    s3.put_object(Bucket=bucket, Key=png_key, Body=photo, ContentType="image/png")

    # Then both become ready, their text read by the OCR function
    pdf_row = wait_settled(db, key=pdf_key, timeout=240)
    png_row = wait_settled(db, key=png_key, timeout=120)
    assert pdf_row["status"] == "ready", pdf_row["error"]
    assert png_row["status"] == "ready", png_row["error"]
    pdf_doc = _document(api, alice, kb, str(pdf_row["id"]))
    assert (pdf_doc["page_count"], pdf_doc["ocr_pages"], pdf_doc["parser"]) == (5, 5, "pypdf+ocr")
    assert pdf_doc["ocr_progress"] is None
    png_doc = _document(api, alice, kb, str(png_row["id"]))
    assert (png_doc["file_type"], png_doc["ocr_pages"]) == ("image", 1)
    # in more than one OCR invocation (3 pages per message: 2 for the PDF, 1 for the photo)
    assert platform.lambdas["OcrFunction"].invocations - ocr_before >= 3
    pages_stored = db.execute(
        "SELECT count(*) AS n FROM document_pages WHERE document_id = %s", (pdf_row["id"],)
    ).fetchone()["n"]
    assert pages_stored == 5

    # And a question about a sentence on page 4 finds that document, on page 4
    sources = api.post(
        f"{API}/knowledge/{kb}/query",
        json={"question": "What does error code E4096 mean?", "top_k": 3},
        headers=alice.headers,
    ).json()["sources"]
    assert sources and sources[0]["document_id"] == str(pdf_row["id"])
    assert sources[0]["page"] == 4 and "E4096" in sources[0]["snippet"]
    # and the photo's text is found too
    hours = api.post(
        f"{API}/knowledge/{kb}/query", json={"question": "门店营业时间", "top_k": 3}, headers=alice.headers
    ).json()["sources"]
    assert hours and hours[0]["document_id"] == str(png_row["id"])


def test_a_jpeg_upload_through_the_api_is_read_by_ocr(platform: Any, api: Any, db: Any, alice: Any) -> None:
    kb = create_kb(api, alice, "photos")
    jpeg = encoded(
        render_page(["退货须知 Returns", "收到商品七天内可以无理由退货。", "Returns are free within 7 days."]), "JPEG"
    )

    resp = api.post(
        f"{API}/knowledge/{kb}/documents/upload",
        files={"file": ("returns.jpg", jpeg, "image/jpeg")},
        headers=alice.headers,
    )

    assert resp.status_code == 202, resp.text
    row = wait_settled(db, document_id=resp.json()["id"], timeout=120)
    assert row["status"] == "ready", row["error"]
    assert row["file_type"] == "image" and row["ocr_pages"] == 1


def test_a_300_page_scan_on_the_free_tier_fails_fast_with_its_reason(
    platform: Any, api: Any, db: Any, s3: Any, alice: Any
) -> None:
    kb = create_kb(api, alice, "big scans")
    ocr_before = platform.lambdas["OcrFunction"].invocations
    # Given a 300-page image-only PDF (one small picture repeated: only the page count matters)
    page = render_page(["扫描件 Scan"], size=(210, 297), body_pt=10)
    scan = image_only_pdf([page] * 300, resolution=25.0)
    key = f"kb/{kb}/archive/scan-300.pdf"

    # When it is dropped into the bucket
    s3.put_object(Bucket=platform.stack.bucket_name, Key=key, Body=scan, ContentType="application/pdf")

    # Then it fails with a reason a user can read, before any page is sent to OCR
    row = wait_settled(db, key=key, timeout=60)
    assert row["status"] == "failed" and row["error_code"] == "too_many_pages"
    assert "300 pages" in row["error"] and "limit" in row["error"]
    assert row["ocr_pages_total"] == 0
    assert platform.lambdas["OcrFunction"].invocations == ocr_before
    body = api.get(f"{API}/knowledge/{kb}/documents/{row['id']}", headers=alice.headers).json()
    assert body["status"] == "failed" and "300 pages" in body["error"]


def test_a_long_scan_within_the_limit_completes_through_several_invocations(
    platform: Any, api: Any, db: Any, s3: Any, alice: Any
) -> None:
    kb = create_kb(api, alice, "long scans")
    ocr_before = platform.lambdas["OcrFunction"].invocations
    # Given a 12-page scan (short pages: one line each), within the free tier's 50 OCR pages
    lines = [[f"第{n}页 Page {n}: 保修卡编号 WC-{n:04d} 请妥善保管。"] for n in range(1, 13)]
    scan = image_only_pdf([render_page(page, size=(1240, 400)) for page in lines])
    key = f"kb/{kb}/long/warranty cards.pdf"

    s3.put_object(Bucket=platform.stack.bucket_name, Key=key, Body=scan, ContentType="application/pdf")

    # Then it completes through four OCR invocations (3 pages each), every page in page order
    row = wait_settled(db, key=key, timeout=240)
    assert row["status"] == "ready", row["error"]
    assert row["ocr_pages"] == 12 and row["ocr_pages_done"] == 12
    assert platform.lambdas["OcrFunction"].invocations - ocr_before >= 4
    text = " ".join(
        r["text"]
        for r in db.execute(
            "SELECT text FROM chunks WHERE document_id = %s ORDER BY chunk_index", (row["id"],)
        ).fetchall()
    )
    positions = [text.find(f"WC-{n:04d}") for n in range(1, 13)]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), text


def test_a_new_version_supersedes_the_ocr_of_the_old_one(platform: Any, api: Any, db: Any, s3: Any, alice: Any) -> None:
    kb = create_kb(api, alice, "versions")
    key = f"kb/{kb}/scans/price list.pdf"
    bucket = platform.stack.bucket_name
    old = image_only_pdf(
        [render_page([f"旧价目表 Old prices page {n}", f"型号 OLD-{n}11 售价 ¥{n}99.00"]) for n in (1, 2, 3, 4)]
    )
    new = image_only_pdf(
        [render_page([f"新价目表 New prices page {n}", f"型号 NEW-{n}22 售价 ¥{n}49.00"]) for n in (1, 2)]
    )

    # Given a scan, replaced by a new version right away (its OCR may be half done)
    s3.put_object(Bucket=bucket, Key=key, Body=old, ContentType="application/pdf")
    latest = s3.put_object(Bucket=bucket, Key=key, Body=new, ContentType="application/pdf")["VersionId"]

    # Then the document ends with the new version's text, and only its pages are kept
    def settled_on_latest() -> dict[str, Any] | None:
        row = wait_settled(db, key=key, timeout=240)
        return row if row["s3_version_id"] == latest else None

    row = wait_for(settled_on_latest, timeout=240, interval=0.5)
    assert row["status"] == "ready", row["error"]
    assert row["ocr_pages"] == 2 and row["ocr_source"] == latest
    text = " ".join(r["text"] for r in db.execute("SELECT text FROM chunks WHERE document_id = %s", (row["id"],)))
    assert "NEW-122" in text.replace(" ", "") and "OLD-" not in text
    versions = db.execute(
        "SELECT DISTINCT source_version FROM document_pages WHERE document_id = %s", (row["id"],)
    ).fetchall()
    assert [v["source_version"] for v in versions] == [latest]
