"""Shared pieces of the knowledge base tests: file builders (generated at test time, nothing
binary is committed), API shortcuts and waits on ingestion."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

API = "/api/v1"


# --------------------------------------------------------------------------- file builders


def make_pdf(pages: list[list[str]], *, title: str | None = None) -> bytes:
    """A PDF with a real text layer; Chinese uses reportlab's built-in STSong CID font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    if title:
        pdf.setTitle(title)
    for lines in pages:
        y = 780
        for line in lines:
            pdf.setFont("STSong-Light", 11)
            pdf.drawString(60, y, line)
            y -= 18
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def encrypt_pdf(data: bytes, *, user_password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(heading: str, paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def make_xlsx(header: list[str], rows: list[list[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def make_csv(header: list[str], rows: list[list[Any]]) -> bytes:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def make_html(title: str, heading: str, paragraph: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title><script>alert('x')</script></head>"
        f"<body><nav>menu</nav><main><h1>{heading}</h1><p>{paragraph}</p></main></body></html>"
    ).encode()


def make_zip_bomb_docx() -> bytes:
    """A DOCX-shaped zip whose document.xml inflates from a few KB to 300 MB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            chunk = b"<w:t>" + b"A" * (1024 * 1024) + b"</w:t>"
            for _ in range(300):
                part.write(chunk)
    return buf.getvalue()


# --------------------------------------------------------------------------- API shortcuts


def create_kb(api: Any, user: Any, name: str = "KB") -> str:
    resp = api.post(f"{API}/knowledge", json={"name": name}, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def add_text(api: Any, user: Any, kb_id: str, title: str, content: str) -> str:
    resp = api.post(
        f"{API}/knowledge/{kb_id}/documents", json={"title": title, "content": content}, headers=user.headers
    )
    assert resp.status_code == 202, resp.text
    return resp.json()["id"]


def document_row(db: Any, *, document_id: str | None = None, key: str | None = None) -> dict[str, Any] | None:
    if document_id:
        return db.execute("SELECT * FROM documents WHERE id = %s", (document_id,)).fetchone()
    return db.execute("SELECT * FROM documents WHERE s3_key = %s", (key,)).fetchone()


def wait_settled(db: Any, *, document_id: str | None = None, key: str | None = None, timeout: float = 30.0) -> dict:
    """Wait until the document is ready or failed; returns its row."""
    deadline = time.monotonic() + timeout
    while True:
        row = document_row(db, document_id=document_id, key=key)
        if row is not None and row["status"] in ("ready", "failed"):
            return row
        if time.monotonic() > deadline:
            raise AssertionError(
                f"document {document_id or key} not settled within {timeout}s: {row and row['status']}"
            )
        time.sleep(0.1)


def chunk_rows(db: Any, document_id: str) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT chunk_index, text FROM chunks WHERE document_id = %s ORDER BY chunk_index", (document_id,)
    ).fetchall()


def s3_event(
    bucket: str,
    key: str,
    *,
    etag: str,
    size: int,
    version_id: str | None = None,
    event_name: str = "ObjectCreated:Put",
    sequencer: str | None = None,
) -> dict[str, Any]:
    """An S3 event notification body for one object (the key URL-encoded as S3 sends it)."""
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {"key": quote_plus(key), "size": size, "eTag": etag}
    if version_id:
        obj["versionId"] = version_id
    if sequencer:
        obj["sequencer"] = sequencer
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2025-01-01T00:00:00.000Z",
                "eventName": event_name,
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
            }
        ]
    }


def event_for_object(s3: Any, bucket: str, key: str, **kw: Any) -> dict[str, Any]:
    """The ObjectCreated notification of the object's current version."""
    head = s3.head_object(Bucket=bucket, Key=key)
    return s3_event(
        bucket,
        key,
        etag=head["ETag"].strip('"'),
        size=head["ContentLength"],
        version_id=head.get("VersionId"),
        **kw,
    )
