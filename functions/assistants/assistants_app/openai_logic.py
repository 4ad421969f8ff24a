"""OpenAI-compatible chat completions over the caller's assistants.

``model`` is one of the caller's assistant ``public_id``s; the last ``user`` message is the
question and the ``user``/``assistant`` messages before it are the history (``system``
messages are ignored: the assistant's own instructions apply). Each call is recorded as a
conversation of channel ``api`` in the owner's view, answers exactly as a visitor's question
is answered (knowledge bases, no-answer policy, budget) and is billed to the caller.

With ``stream: true`` the answer is sent as server-sent events (``chat.completion.chunk``
objects, then ``data: [DONE]``); API Gateway's REST API buffers a response, so the events
arrive together at the end. Use the WebSocket API for token-by-token streaming.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistants_app import answering
from assistants_app.models import ChatCompletionRequest
from assistants_app.repository import AssistantRepository
from claw_ai.answering.pipeline import AnswerDeps
from claw_ai.llm import stream_pieces
from claw_ai.messages import ChatMessage
from claw_ai.retrieval.sources import CitedSource
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.errors import NotFound, ValidationFailed


class ModelCard(BaseModel):
    id: str = Field(description="The assistant's public_id.")
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "claw-ai"
    name: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """OpenAI's ``chat.completion`` object, plus the assistant's ``sources`` and ``no_answer``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    sources: list[CitedSource] = Field(default_factory=list, description="CLAW.AI extension: the cited chunks.")
    no_answer: bool = Field(False, description="CLAW.AI extension: the knowledge bases hold no answer.")


def list_models(caller: Caller) -> ModelList:
    """The caller's active assistants as OpenAI models."""
    with db.connection() as conn:
        rows = AssistantRepository(conn).active_of_owner(caller.user_id)
    return ModelList(
        data=[ModelCard(id=r["public_id"], created=int(r["created_at"].timestamp()), name=r["name"]) for r in rows]
    )


def _question_and_history(body: ChatCompletionRequest) -> tuple[str, list[ChatMessage]]:
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise ValidationFailed(
            "The last message must be a user message with text.",
            errors=[{"loc": ["body", "messages"], "msg": "no user question at the end", "type": "value_error"}],
        )
    question = turns[-1].text()
    if len(question) > 4000:
        raise ValidationFailed(
            "The question is longer than 4000 characters.",
            errors=[{"loc": ["body", "messages"], "msg": "question too long", "type": "string_too_long"}],
        )
    history = [ChatMessage(role="user" if m.role == "user" else "assistant", content=m.text()) for m in turns[:-1]]
    return question, history


def complete(caller: Caller, body: ChatCompletionRequest, deps: AnswerDeps, deadline_s: float | None) -> ChatCompletion:
    """Answer a chat completion request with the caller's assistant ``body.model``."""
    with db.connection() as conn:
        assistant = AssistantRepository(conn).get_owned_by_public_id(caller.user_id, body.model)
    if assistant is None or not assistant["is_active"]:
        raise NotFound(f"The model {body.model[:100]!r} does not exist; GET /openai/models lists yours.")
    question, history = _question_and_history(body)
    reply = answering.ask(
        answering.Question(
            assistant=assistant,
            payer=caller,
            conversation_id=str(uuid.uuid4()),
            text=question,
            channel="api",
            history=history,
        ),
        deps,
        deadline_s=deadline_s,
    )
    return ChatCompletion(
        id=f"chatcmpl-{reply.message_id}",
        created=int(time.time()),
        model=body.model,
        choices=[Choice(message=CompletionMessage(content=reply.content))],
        usage=CompletionUsage(
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            total_tokens=reply.prompt_tokens + reply.completion_tokens,
        ),
        sources=[CitedSource(**s.public()) for s in reply.sources],
        no_answer=reply.no_answer,
    )


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def as_event_stream(completion: ChatCompletion) -> str:
    """The completion as OpenAI's streamed form: a role chunk, content chunks, a final chunk
    with ``finish_reason`` and ``usage``, then ``data: [DONE]``."""
    base = {"id": completion.id, "object": "chat.completion.chunk", "created": completion.created}
    base["model"] = completion.model
    events = [_event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})]
    for piece in stream_pieces(completion.choices[0].message.content):
        events.append(_event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}))
    events.append(
        _event(
            {
                **base,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "usage": completion.usage.model_dump(),
                "sources": [s.model_dump() for s in completion.sources],
                "no_answer": completion.no_answer,
            }
        )
    )
    events.append("data: [DONE]\n\n")
    return "".join(events)
