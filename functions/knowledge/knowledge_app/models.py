"""Request and response models of the knowledge base API (they also feed the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TOP_K_MAX = 20


class KnowledgeBaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Shown in lists; need not be unique.")
    description: str = Field("", max_length=2000)

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
    created_at: datetime
    updated_at: datetime


class KnowledgeBasePage(BaseModel):
    items: list[KnowledgeBase]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


class TextDocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    content: str = Field(min_length=1, description="Plain text or Markdown (headings become sections).")

    @field_validator("title", "content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class UploadUrlRequest(BaseModel):
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
    created_at: datetime
    updated_at: datetime
    ingested_at: datetime | None = None


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
    knowledge_base_ids: list[str] | None = Field(
        None, max_length=20, description="POST /knowledge/query only: which of your knowledge bases (default: all)."
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SourceOut(BaseModel):
    document_id: str
    title: str
    chunk_index: int
    score: float = Field(description="Cosine similarity (vector) or reciprocal-rank-fusion score (hybrid).")
    snippet: str
    heading: str | None = None
    page: int | None = None
    knowledge_base_id: str | None = None


class QueryUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float


class QueryResponse(BaseModel):
    sources: list[SourceOut]
    mode: Literal["vector", "hybrid"]
    answer: str | None = None
    model: str | None = None
    cached: bool | None = None
    usage: QueryUsage | None = None
