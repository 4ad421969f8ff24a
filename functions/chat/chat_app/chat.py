"""Routes of a conversation's messages and of the chat call that answers them."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from chat_app import chat_logic, conversation_logic
from chat_app.models import ChatRequest, ChatResponse, Message, MessageCreate, MessagePage
from claw_ai.answering.pipeline import DEFAULT_DEADLINE_S
from claw_common.http.app import api_router
from claw_common.http.pagination import Cursor, Limit
from claw_common.http.security import CallerDep

router = api_router("/conversations", tags=["chat"])

# Seconds kept back from the Lambda's remaining time to store the answer and respond.
RESPONSE_RESERVE_S = 3.0
MIN_DEADLINE_S = 1.0


def model_deadline_s(request: Request) -> float:
    """How long the model may take: the invocation's remaining time minus a reserve, at most the default."""
    context: Any = request.scope.get("aws.context")
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return DEFAULT_DEADLINE_S
    return max(MIN_DEADLINE_S, min(DEFAULT_DEADLINE_S, remaining_ms() / 1000 - RESPONSE_RESERVE_S))


@router.post(
    "/{conversation_id}/messages", status_code=201, response_model=Message, summary="Store a message (no answer)"
)
def add_message(conversation_id: str, body: MessageCreate, caller: CallerDep) -> Any:
    return conversation_logic.add_message(caller, conversation_id, body)


@router.get("/{conversation_id}/messages", response_model=MessagePage, summary="Messages, oldest first")
def list_messages(
    conversation_id: str,
    caller: CallerDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    return conversation_logic.list_messages(caller, conversation_id, limit=limit, cursor=cursor)


@router.post(
    "/{conversation_id}/chat",
    response_model=ChatResponse,
    summary="Ask the assistant; the question and the answer are stored",
    responses={
        404: {"description": "No such conversation of the caller."},
        409: {"description": "The conversation is archived."},
        429: {"description": "Monthly token quota used up (type .../quota-exceeded)."},
        502: {"description": "The AI provider rejected the request."},
        503: {"description": "The AI provider is rate limiting or unavailable (Retry-After)."},
        504: {"description": "The AI provider did not answer in time."},
    },
)
def chat(conversation_id: str, body: ChatRequest, caller: CallerDep, request: Request) -> Any:
    return chat_logic.chat(caller, conversation_id, body, deadline_s=model_deadline_s(request))
