"""Request and response models of the assistants API (owner, visitor and OpenAI-compatible routes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from claw_ai.retrieval.sources import CitedSource

MAX_QUESTION_CHARS = 4000
MAX_KNOWLEDGE_BASES = 20
MAX_ORIGINS = 20
MAX_SUGGESTED = 10


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, as browsers send ``Origin``; ValueError otherwise."""
    text = value.strip().rstrip("/").lower()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ValueError(f"{value[:80]!r} is not an origin like https://www.example.com")
    if parts.username or parts.password:
        raise ValueError("an origin has no user information")
    return text


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class _AssistantSettings(BaseModel):
    """Fields an owner sets (all optional here: PUT changes only the fields it sends)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, description="Shown to visitors.")
    knowledge_base_ids: list[str] | None = Field(
        None, max_length=MAX_KNOWLEDGE_BASES, description="The owner's knowledge bases the assistant answers from."
    )
    system_prompt: str | None = Field(None, max_length=8000, description="Instructions; default: the platform's.")
    model: str | None = Field(None, min_length=1, max_length=64, description="Chat model; default: the platform's.")
    welcome_message: str | None = Field(None, max_length=2000, description="The widget's first bubble.")
    suggested_questions: list[str] | None = Field(
        None, max_length=MAX_SUGGESTED, description="Questions the widget offers as buttons."
    )
    no_answer_message: str | None = Field(
        None,
        max_length=2000,
        description="Said when the knowledge bases hold no answer; default: a polite sentence in the question's "
        "language.",
    )
    allowed_origins: list[str] | None = Field(
        None,
        max_length=MAX_ORIGINS,
        description="Web origins that may open visitor sessions (https://www.example.com); empty = any.",
    )
    visitor_rate_limit_per_minute: int | None = Field(None, ge=1, le=1000, description="Messages per visitor/min.")
    monthly_token_budget: int | None = Field(
        None, ge=0, description="Tokens per calendar month (UTC) for this assistant; null = no limit of its own."
    )
    is_active: bool | None = Field(None, description="An inactive assistant answers 404 to visitors.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else _not_blank(v).strip()

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else sorted({normalise_origin(o) for o in v})

    @field_validator("suggested_questions")
    @classmethod
    def _suggested(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        cleaned = [q.strip() for q in v]
        if any(not q or len(q) > 200 for q in cleaned):
            raise ValueError("each suggested question must have 1-200 characters")
        return cleaned


class AssistantCreate(_AssistantSettings):
    """``POST /assistants``."""

    name: str = Field(min_length=1, max_length=200, description="Shown to visitors.")  # type: ignore[assignment]


class AssistantUpdate(_AssistantSettings):
    """``PUT /assistants/{id}``: the fields sent replace the stored ones; the others stay.

    ``null`` for ``system_prompt`` or ``monthly_token_budget`` sets them back to none."""


class Assistant(BaseModel):
    """An assistant as its owner sees it."""

    id: str
    public_id: str = Field(description="Unguessable id for visitors, the widget and OpenAI clients (`model`).")
    name: str
    knowledge_base_ids: list[str]
    system_prompt: str | None
    model: str
    welcome_message: str
    suggested_questions: list[str]
    no_answer_message: str
    allowed_origins: list[str]
    visitor_rate_limit_per_minute: int
    monthly_token_budget: int | None
    is_active: bool
    embed_snippet: str = Field(description="The <script> tag that puts the widget on a page.")
    created_at: datetime
    updated_at: datetime


class AssistantPage(BaseModel):
    items: list[Assistant]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null on the last.")


# --------------------------------------------------------------------------- visitors


class AssistantIntro(BaseModel):
    """What a visitor's widget shows before the first question."""

    name: str
    welcome_message: str
    suggested_questions: list[str]


class VisitorSession(BaseModel):
    """``POST /public/assistants/{public_id}/sessions`` → 201."""

    session_token: str = Field(description="Send as Authorization: Bearer on the chat and feedback routes.")
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds; renew by POSTing …/sessions with the current token.")
    conversation_id: str
    assistant: AssistantIntro


class VisitorQuestion(BaseModel):
    """``POST /public/assistants/{public_id}/chat``."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)

    _message = field_validator("message")(_not_blank)


class VisitorAnswer(BaseModel):
    """The answer to a visitor's question."""

    message_id: str
    conversation_id: str
    content: str
    sources: list[CitedSource]
    no_answer: bool = Field(description="True when the knowledge bases hold no answer (the no-answer message).")
    limited: Literal["budget", "quota"] | None = Field(
        None, description="Set when the model was not asked: the assistant's budget or the owner's quota is used up."
    )


class FeedbackIn(BaseModel):
    """``POST /public/assistants/{public_id}/feedback``."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=36, max_length=36)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class Feedback(BaseModel):
    message_id: str
    rating: Literal["up", "down"]
    comment: str | None = None


# --------------------------------------------------------------------------- the owner's view


class ConversationSummary(BaseModel):
    id: str
    channel: Literal["widget", "api"]
    visitor_id: str | None
    origin: str | None
    started_at: datetime
    last_message_at: datetime
    last_message: str | None = Field(description="The latest message, shortened to 200 characters.")
    message_count: int
    question_count: int
    no_answer_count: int
    feedback_up: int
    feedback_down: int


class ConversationPage(BaseModel):
    items: list[ConversationSummary]
    next_cursor: str | None = None


class OwnerMessage(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    content: str
    sources: list[CitedSource]
    no_answer: bool
    limited: str | None
    feedback: Feedback | None
    prompt_tokens: int
    completion_tokens: int
    cost: float
    model: str | None
    created_at: datetime


class MessageList(BaseModel):
    conversation_id: str
    items: list[OwnerMessage]


class StatsDay(BaseModel):
    day: date
    conversations: int
    questions: int
    no_answers: int
    no_answer_rate: float = Field(description="no_answers / questions (0 when there were no questions).")
    feedback_up: int
    feedback_down: int
    tokens: int
    cost: float


class AssistantStats(BaseModel):
    assistant_id: str
    days: list[StatsDay] = Field(description="One entry per UTC day, oldest first, days without activity included.")
    totals: StatsDay = Field(description="The whole period (its day is the first day).")


# --------------------------------------------------------------------------- OpenAI-compatible


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (text parts of a multi-part content joined)."""
        if isinstance(self.content, str):
            return self.content
        parts = [p.get("text") for p in self.content or [] if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(str(p) for p in parts if p)


class ChatCompletionRequest(BaseModel):
    """The subset of OpenAI's chat completion request we honour (other fields are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=100, description="An assistant's public_id.")
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
