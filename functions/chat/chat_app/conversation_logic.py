"""Conversations and their messages: create, list (cached per user), read, change, delete.

Routes call these with the caller from the authorizer context; they return the API's
models. The database comes through ``claw_common.data.db.connection()``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from chat_app.models import (
    Conversation,
    ConversationCreate,
    ConversationPage,
    ConversationUpdate,
    Message,
    MessageCreate,
    MessagePage,
)
from chat_app.repositories import ConversationRepository, MessageRepository, owns_knowledge_base
from claw_ai import runtime_config
from claw_ai.tokens import count_tokens
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.data.cache_aside import hash_key
from claw_common.data.invalidation import conversation_pages, conversations_changed
from claw_common.errors import NotFound
from claw_common.http.pagination import SeqPosition, decode_cursor, encode_cursor

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def not_found(what: str = "Conversation") -> NotFound:
    return NotFound(f"{what} not found.")


def require_uuid(value: str, what: str = "Conversation") -> str:
    # A malformed id is as unknown as a missing one (and must not reach the uuid cast in SQL).
    if not _UUID.match(value or ""):
        raise not_found(what)
    return value.lower()


def require_knowledge_base(conn: Any, caller: Caller, knowledge_base_id: str | None) -> None:
    # Another user's knowledge base is as unknown as a missing one: linking it would be refused anyway.
    if knowledge_base_id and not owns_knowledge_base(conn, caller.user_id, knowledge_base_id):
        raise not_found("Knowledge base")


def conversation_out(row: dict[str, Any]) -> Conversation:
    """A conversation row as the API shows it."""
    return Conversation.model_validate(row)


def message_out(row: dict[str, Any]) -> Message:
    """A message row as the API shows it."""
    out = {k: row[k] for k in row if k != "seq"}
    out["tokens"] = int(row["prompt_tokens"]) + int(row["completion_tokens"])
    out["cost"] = float(row["cost"])
    return Message.model_validate(out)


def create_conversation(caller: Caller, body: ConversationCreate) -> Conversation:
    """Create a conversation of the caller; its model is the configured default unless given."""
    model = body.model or runtime_config.default_model()
    with db.connection() as conn:
        require_knowledge_base(conn, caller, body.knowledge_base_id)
        row = ConversationRepository(conn).create(
            caller.user_id,
            title=body.title,
            conversation_type=body.conversation_type,
            model=model,
            system_prompt=body.system_prompt,
            knowledge_base_id=body.knowledge_base_id,
            metadata=body.metadata,
        )
    conversations_changed(caller.user_id)
    return conversation_out(row)


def list_conversations(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    conversation_type: str | None = None,
) -> ConversationPage:
    """The caller's conversations, most recently active first, one page at a time (cached)."""

    def load() -> ConversationPage:
        return _load_conversations(
            caller, limit=limit, cursor=cursor, status=status, conversation_type=conversation_type
        )

    key = hash_key(limit, cursor, status, conversation_type)
    page = conversation_pages(ConversationPage).get_or_load(key, load, namespace=f"user:{caller.user_id}")
    return page


def _load_conversations(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    conversation_type: str | None,
) -> ConversationPage:
    after: tuple[datetime, str] | None = None
    if cursor:
        at, ident = decode_cursor(cursor, tuple[datetime, UUID])
        after = (at, str(ident))
    with db.connection() as conn:
        rows = ConversationRepository(conn).page(
            caller.user_id, limit=limit + 1, after=after, status=status, conversation_type=conversation_type
        )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last["updated_at"].isoformat(), last["id"]])
    return ConversationPage(items=[conversation_out(r) for r in rows], next_cursor=next_cursor)


def get_conversation(caller: Caller, conversation_id: str) -> Conversation:
    """The caller's conversation, or 404."""
    conversation_id = require_uuid(conversation_id)
    with db.connection() as conn:
        row = ConversationRepository(conn).get(caller.user_id, conversation_id)
    if row is None:
        raise not_found()
    return conversation_out(row)


# Null clears these; for the other fields null means "leave as is" (they cannot be empty).
_NULLABLE = frozenset({"system_prompt", "knowledge_base_id"})


def update_conversation(caller: Caller, conversation_id: str, body: ConversationUpdate) -> Conversation:
    """Change the fields present in ``body``; 404 when the conversation is not the caller's."""
    conversation_id = require_uuid(conversation_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in _NULLABLE}
    with db.connection() as conn:
        # An id in a body is checked like an id in a path: another user's or an unknown knowledge base is a 404.
        require_knowledge_base(conn, caller, changes.get("knowledge_base_id"))
        repo = ConversationRepository(conn)
        row = (
            repo.update(caller.user_id, conversation_id, changes)
            if changes
            else repo.get(caller.user_id, conversation_id)
        )
    if row is None:
        raise not_found()
    if changes:
        conversations_changed(caller.user_id)
    return conversation_out(row)


def delete_conversation(caller: Caller, conversation_id: str) -> None:
    """Delete the caller's conversation and its messages (usage already billed stays in the ledger)."""
    conversation_id = require_uuid(conversation_id)
    with db.connection() as conn:
        if not ConversationRepository(conn).delete(caller.user_id, conversation_id):
            raise not_found()
    conversations_changed(caller.user_id)


def add_message(caller: Caller, conversation_id: str, body: MessageCreate) -> Message:
    """Store a message without asking the model (it becomes history for later answers)."""
    conversation_id = require_uuid(conversation_id)
    with db.connection() as conn:
        conversations = ConversationRepository(conn)
        if conversations.get(caller.user_id, conversation_id, for_update=True) is None:
            raise not_found()
        row = MessageRepository(conn).add(
            caller.user_id,
            conversation_id,
            role=body.role,
            content=body.content,
            prompt_tokens=count_tokens(body.content),
        )
        conversations.count_messages_added(caller.user_id, conversation_id, 1)
    conversations_changed(caller.user_id)
    return message_out(row)


def list_messages(caller: Caller, conversation_id: str, *, limit: int, cursor: str | None = None) -> MessagePage:
    """The conversation's messages, oldest first, one page at a time."""
    conversation_id = require_uuid(conversation_id)
    after_seq: int | None = None
    if cursor:
        after_seq = decode_cursor(cursor, SeqPosition)
    with db.connection() as conn:
        if ConversationRepository(conn).get(caller.user_id, conversation_id) is None:
            raise not_found()
        rows = MessageRepository(conn).page(caller.user_id, conversation_id, limit=limit + 1, after_seq=after_seq)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["seq"])
    return MessagePage(items=[message_out(r) for r in rows], next_cursor=next_cursor)
