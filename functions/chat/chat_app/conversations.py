"""Routes of /conversations: create, list, read, update, delete."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from chat_app import conversation_logic as logic
from chat_app.models import (
    Conversation,
    ConversationCreate,
    ConversationPage,
    ConversationStatus,
    ConversationType,
    ConversationUpdate,
)
from claw_common.http.app import api_router
from claw_common.http.pagination import Cursor, Limit
from claw_common.http.security import CallerDep

router = api_router("/conversations", tags=["conversations"])


@router.post("", status_code=201, response_model=Conversation, summary="Create a conversation")
def create_conversation(body: ConversationCreate, caller: CallerDep) -> Any:
    return logic.create_conversation(caller, body)


@router.get("", response_model=ConversationPage, summary="The caller's conversations, most recent first")
def list_conversations(
    caller: CallerDep,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: ConversationStatus | None = None,
    conversation_type: ConversationType | None = None,
) -> Any:
    return logic.list_conversations(
        caller, limit=limit, cursor=cursor, status=status, conversation_type=conversation_type
    )


@router.get("/{conversation_id}", response_model=Conversation, summary="One conversation")
def get_conversation(conversation_id: str, caller: CallerDep) -> Any:
    return logic.get_conversation(caller, conversation_id)


@router.put("/{conversation_id}", response_model=Conversation, summary="Change a conversation (partial)")
def update_conversation(conversation_id: str, body: ConversationUpdate, caller: CallerDep) -> Any:
    return logic.update_conversation(caller, conversation_id, body)


@router.delete("/{conversation_id}", status_code=204, summary="Delete a conversation and its messages")
def delete_conversation(conversation_id: str, caller: CallerDep) -> Response:
    logic.delete_conversation(caller, conversation_id)
    return Response(status_code=204)
