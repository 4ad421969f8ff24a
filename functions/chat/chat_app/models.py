"""Request and response models of the chat API (they also feed its OpenAPI document)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from claw_ai.retrieval.sources import CitedSource

ConversationType = Literal["chat", "consulting", "support"]
ConversationStatus = Literal["active", "paused", "completed", "archived"]
MessageRole = Literal["system", "user", "assistant"]

MAX_MESSAGE_CHARS = 8000
"""Longest message a client may send (characters)."""
MAX_SYSTEM_PROMPT_CHARS = 8000
MAX_TITLE_CHARS = 200
MAX_METADATA_BYTES = 16 * 1024
MAX_TOP_K = 20
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value


class _Request(BaseModel):
    # Unknown fields are ignored, not refused: clients of the original API send a few more.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class ConversationCreate(_Request):
    """A new conversation; every field is optional."""

    title: str = Field("", max_length=MAX_TITLE_CHARS, description="Shown in conversation lists.")
    conversation_type: ConversationType = Field("chat", description="chat, consulting or support.")
    system_prompt: str | None = Field(
        None, max_length=MAX_SYSTEM_PROMPT_CHARS, description="Instructions for the model; the default when null."
    )
    model: str | None = Field(
        None, pattern=MODEL_PATTERN, description="Model that answers (e.g. glm-4); the configured default when null."
    )
    knowledge_base_id: str | None = Field(
        None, pattern=UUID_PATTERN, description="Knowledge base the answers are grounded in."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free JSON for the client (≤ 16 KiB).")

    _metadata = field_validator("metadata")(_check_metadata)
    _prompt = field_validator("system_prompt")(_not_blank)


class ConversationUpdate(_Request):
    """A partial update: only the fields present change; null clears system_prompt or knowledge_base_id."""

    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    conversation_type: ConversationType | None = None
    status: ConversationStatus | None = None
    system_prompt: str | None = Field(None, max_length=MAX_SYSTEM_PROMPT_CHARS)
    model: str | None = Field(None, pattern=MODEL_PATTERN)
    knowledge_base_id: str | None = Field(None, pattern=UUID_PATTERN)
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(_check_metadata)
    _prompt = field_validator("system_prompt")(_not_blank)


class Conversation(BaseModel):
    """A conversation as clients see it."""

    id: str
    title: str
    conversation_type: ConversationType
    status: ConversationStatus
    model: str = Field(description="The model that answers in this conversation.")
    system_prompt: str | None = Field(description="The conversation's own system prompt (null: the default).")
    knowledge_base_id: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    message_count: int = Field(description="Messages stored in the conversation (user and assistant).")


class ConversationPage(BaseModel):
    items: list[Conversation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class MessageCreate(_Request):
    """A message stored without asking the model (e.g. imported history)."""

    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    role: Literal["user"] = Field(
        "user", description="Who wrote it: always the user (system and assistant messages are written by the service)."
    )

    _content = field_validator("content")(_not_blank)


class Message(BaseModel):
    """A stored message."""

    id: str
    conversation_id: str
    role: MessageRole
    content: str
    tokens: int = Field(
        description="Assistant: tokens billed for the answer (prompt + completion). User: tokens of the text."
    )
    prompt_tokens: int
    completion_tokens: int
    cost: float = Field(description="CNY billed for this message (0 for user messages and cached answers).")
    model: str | None
    latency_ms: int | None
    cached: bool
    status: Literal["ok", "pending", "failed"] = Field(
        description="ok; pending (a question being answered); failed (its answer could not be generated)."
    )
    error: str | None = Field(None, description="For a failed question: the problem type of the failure.")
    sources: list[CitedSource] | None = None
    created_at: datetime


class MessagePage(BaseModel):
    items: list[Message]
    next_cursor: str | None


class ChatRequest(_Request):
    """A question for the assistant."""

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="The user's message.")
    knowledge_base_id: str | None = Field(
        None,
        pattern=UUID_PATTERN,
        description="Search this knowledge base for this question (overrides the conversation's).",
    )
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="How many chunks to retrieve.")

    _message = field_validator("message")(_not_blank)


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float = Field(description="CNY.")


class ChatResponse(BaseModel):
    """The assistant's answer, stored as a message."""

    message_id: str = Field(description="Id of the stored assistant message.")
    user_message_id: str = Field(description="Id of the stored user message.")
    conversation_id: str
    content: str
    model: str = Field(description="The model that answered (`offline-extractive` without a language model).")
    cached: bool = Field(description="True when answered from the answer cache (not billed).")
    sources: list[CitedSource]
    usage: UsageOut
    latency_ms: int
    created_at: datetime
    no_answer: bool = Field(
        False, description="True when the knowledge base does not cover the question: the content says so."
    )


class UsageRow(BaseModel):
    day: date
    model: str
    requests: int
    cached_requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float


class UsageTotals(BaseModel):
    requests: int
    cached_requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float


class QuotaOut(BaseModel):
    tier: str
    monthly_tokens: int = Field(description="Tokens allowed per calendar month (UTC).")
    used_tokens: int = Field(description="Tokens spent this month.")
    remaining_tokens: int
    resets_at: datetime


class UsageReport(BaseModel):
    user_id: str
    start: date
    end: date
    items: list[UsageRow] = Field(description="One row per day and model, oldest first.")
    totals: UsageTotals
    quota: QuotaOut
