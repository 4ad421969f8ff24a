"""Request and response models of the knowledge base API (they also feed the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from claw_ai.retrieval.sources import CitedSource

TOP_K_MAX = 20
NO_ANSWER_MESSAGE = Field(
    None,
    min_length=1,
    max_length=1000,
    description="What answers say when the knowledge base does not cover a question "
    "(null: a default message in the question's language).",
)


class Validity(BaseModel):
    """When a document is in force: not superseded, and inside its validity period (bounds optional)."""

    superseded_by: str | None = Field(
        None, description="Id of the document (same knowledge base) that replaces this one; search leaves it out."
    )
    valid_from: datetime | None = Field(None, description="Search leaves the document out before this time.")
    valid_until: datetime | None = Field(None, description="Search leaves the document out from this time on.")

    @model_validator(mode="after")
    def _ordered(self) -> Validity:
        if self.valid_from is not None and self.valid_until is not None and self.valid_from >= self.valid_until:
            raise ValueError("valid_from must be before valid_until")
        return self


class KnowledgeBaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Shown in lists; need not be unique.")
    description: str = Field("", max_length=2000)
    no_answer_message: str | None = NO_ANSWER_MESSAGE

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        return value


class KnowledgeBaseUpdate(BaseModel):
    """A partial update: only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    no_answer_message: str | None = NO_ANSWER_MESSAGE

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("name must not be blank")
        return value.strip() if value is not None else None


class KnowledgeBase(BaseModel):
    id: str
    name: str
    description: str
    document_count: int = Field(description="Documents in the knowledge base, whatever their status.")
    no_answer_message: str | None = Field(None, description="The knowledge base's own no-answer message, if set.")
    created_at: datetime
    updated_at: datetime


class KnowledgeBasePage(BaseModel):
    items: list[KnowledgeBase]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


class TextDocumentCreate(Validity):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    content: str = Field(min_length=1, description="Plain text or Markdown (headings become sections).")

    @field_validator("title", "content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class UploadUrlRequest(Validity):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255, description="File name with its extension, e.g. manual.pdf.")
    content_type: str | None = Field(None, max_length=200)
    size: int | None = Field(None, ge=1, description="Bytes the client will upload; checked against the tier limit.")
    title: str | None = Field(None, max_length=500)


class UploadUrl(BaseModel):
    document_id: str
    method: Literal["POST", "PUT"]
    url: str
    fields: dict[str, str] | None = Field(None, description="Form fields to send before `file` (method POST).")
    headers: dict[str, str] | None = Field(None, description="Headers to send with the body (method PUT).")
    expires_in: int = Field(description="Seconds the URL stays valid.")
    max_bytes: int = Field(description="Largest file the URL accepts.")
    key: str = Field(description="The S3 key the file is stored under.")


class DocumentUpdate(Validity):
    """A partial update of a document: only the fields present change (null clears one)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=500)


class OcrProgress(BaseModel):
    pages_done: int = Field(description="Pages OCR has read so far.")
    pages_total: int = Field(description="Pages of the document that need OCR.")


class Document(BaseModel):
    id: str
    knowledge_base_id: str
    title: str
    filename: str
    status: Literal["pending", "processing", "ready", "failed"]
    error: str | None = Field(None, description="Why ingestion failed, readable by the user.")
    chunk_count: int
    token_count: int
    parser: str | None = None
    file_type: str | None = None
    size: int | None = None
    content_type: str | None = None
    page_count: int | None = Field(None, description="Pages of a PDF.")
    ocr_pages: int = Field(
        0, description="Pages of the ingested text read by OCR (scanned PDF pages, or 1 for an image)."
    )
    ocr_progress: OcrProgress | None = Field(
        None, description="While scanned pages are being read: pages done of the pages that need OCR."
    )
    created_at: datetime
    updated_at: datetime
    ingested_at: datetime | None = None
    superseded_by: str | None = Field(None, description="The document that replaces this one.")
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    in_force: bool = Field(True, description="False when superseded or outside its validity period: not searched.")

    @model_validator(mode="before")
    @classmethod
    def _ocr_progress(cls, data: Any) -> Any:
        # The row's counters become ocr_progress while the document waits for OCR.
        if isinstance(data, dict) and "ocr_pages_total" in data:
            data = dict(data)
            total, done = data.pop("ocr_pages_total") or 0, data.pop("ocr_pages_done") or 0
            if data.get("status") == "processing" and total and data.get("ocr_progress") is None:
                data["ocr_progress"] = {"pages_done": min(done, total), "pages_total": total}
        return data


class DocumentPage(BaseModel):
    items: list[Document]
    next_cursor: str | None = None


class ChunkOut(BaseModel):
    chunk_index: int
    text: str
    token_count: int
    heading: str | None = None
    page: int | None = None
    row: int | None = None
    sheet: str | None = None


class ChunkPage(BaseModel):
    items: list[ChunkOut]
    next_cursor: str | None = None


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(5, ge=1, le=TOP_K_MAX)
    mode: Literal["vector", "hybrid"] = "hybrid"
    answer: bool = Field(False, description="Also generate an answer from the passages (billed like chat).")
    explain: bool = Field(
        False, description="Hit testing: each source carries its vector and keyword ranks and scores and its threshold."
    )
    knowledge_base_ids: list[str] | None = Field(
        None, max_length=20, description="POST /knowledge/query only: which of your knowledge bases (default: all)."
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class PassageExplain(BaseModel):
    """Why a passage was returned (hit testing)."""

    vector_rank: int | None = Field(description="1-based rank by cosine among the candidates (null: not a candidate).")
    vector_score: float = Field(description="Cosine similarity of the question and the passage.")
    keyword_rank: int | None = Field(description="1-based rank by keyword score (null: no keyword matched).")
    keyword_score: float = Field(description="Share (0-1) of the question's keyword IDF weight the passage holds.")
    matched_terms: list[str] = Field(description="The question's keyword terms found in the passage.")
    relevance: float = Field(description="cosine + keyword weight x keyword score: ranks hybrid search.")
    threshold: float | None = Field(description="Least relevance the embedding model needs (null: none).")
    reason: str = Field(description="Why the passage passed the threshold, in words.")


class SourceOut(CitedSource):
    score: float = Field(description="Cosine similarity (vector) or fused relevance, cosine + keyword (hybrid).")
    knowledge_base_id: str | None = None
    explain: PassageExplain | None = Field(None, description="Present when the query asked for `explain`.")


class QueryUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float


class QueryResponse(BaseModel):
    sources: list[SourceOut]
    mode: Literal["vector", "hybrid"]
    no_answer: bool = Field(
        False, description="True when the knowledge base does not cover the question (no source passed the threshold)."
    )
    answer: str | None = None
    model: str | None = None
    cached: bool | None = None
    usage: QueryUsage | None = None
