"""Chat logic: conversations, messages, answers with accounting, usage reports.

Routes call these functions with the caller from the authorizer context; they return plain
dicts shaped like the response models. Adapters come in through ``deps``
(:class:`claw_ai.answering.pipeline.AnswerDeps`); the database through ``claw_common.data.db.connection()``.

What a chat call stores (see docs/chat.md):

1. In one transaction, before anything can fail: the user's message, ``status='pending'``.
2. The model is called outside any transaction (it may take seconds).
3. On success, in one transaction: the assistant message (whole, never partial), the user
   message set to ``ok``, the usage ledger row. On any failure (quota, provider error,
   timeout) only the user message is updated: ``status='failed'``, ``error`` = the problem
   type slug; no assistant message exists and nothing is billed.

The WebSocket stream (``chat_app.ws``) runs the very same :func:`chat` with an ``on_delta``
callback: the model is then called with ``stream()`` and every piece of text is handed to
the callback as it arrives (a cached answer in small pieces), so what is stored and billed
is identical whichever way the answer travels.
"""

from __future__ import annotations

from chat_app.conversation_logic import not_found, require_knowledge_base, require_uuid
from chat_app.models import ChatRequest, ChatResponse
from chat_app.repositories import ConversationRepository, MessageRepository
from claw_ai import runtime_config
from claw_ai.answering.ledger import UsageRepository
from claw_ai.answering.pipeline import (
    AnswerDeps,
    OnDelta,
    build_messages,
    default_deps,
    generate,
    record_usage,
    remember,
)
from claw_ai.messages import ChatMessage
from claw_ai.retrieval.sources import Source
from claw_ai.tokens import count_tokens
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.data.invalidation import conversations_changed
from claw_common.errors import ClawError, Conflict
from claw_common.observability import logger

HISTORY_MAX_MESSAGES = 50
"""Most history turns read from the database before trimming to the token budget."""


def _mark_failed(caller: Caller, message_id: str, slug: str) -> None:
    try:
        with db.connection() as conn:
            MessageRepository(conn).set_status(caller.user_id, message_id, "failed", slug)
    except Exception:  # noqa: BLE001 - the original failure is what the client must see
        logger.exception("could not mark the message failed", extra={"message_id": message_id})


def chat(
    caller: Caller,
    conversation_id: str,
    request: ChatRequest,
    *,
    deadline_s: float | None = None,
    deps: AnswerDeps | None = None,
    on_delta: OnDelta | None = None,
) -> ChatResponse:
    """Store the user's message, answer it (with sources when a knowledge base applies), store the answer.

    See the module docstring for exactly what is stored on success and on failure. With
    ``on_delta`` the answer is streamed: each piece of text is passed to it as it arrives
    (before anything is stored); the return value and the stored rows are the same.
    """
    conversation_id = require_uuid(conversation_id)
    deps = deps or default_deps()
    question = request.message

    with db.connection() as conn:
        conversations = ConversationRepository(conn)
        conversation = conversations.get(caller.user_id, conversation_id, for_update=True)
        if conversation is None:
            raise not_found()
        if conversation["status"] == "archived":
            raise Conflict("The conversation is archived; set its status to active to continue it.")
        require_knowledge_base(conn, caller, request.knowledge_base_id)
        messages_repo = MessageRepository(conn)
        user_message = messages_repo.add(
            caller.user_id,
            conversation_id,
            role="user",
            content=question,
            status="pending",
            prompt_tokens=count_tokens(question),
        )
        history_rows = messages_repo.history(
            caller.user_id, conversation_id, before_seq=user_message["seq"], limit=HISTORY_MAX_MESSAGES
        )
        conversations.count_messages_added(caller.user_id, conversation_id, 1)
    conversations_changed(caller.user_id)

    try:
        kb_id = request.knowledge_base_id or conversation["knowledge_base_id"]
        sources: list[Source] = []
        if kb_id:
            with db.connection() as conn:
                sources = list(
                    deps.retriever.search(
                        conn, owner_id=caller.user_id, kb_ids=[kb_id], question=question, top_k=request.top_k
                    )
                )
        history = [ChatMessage(role=r["role"], content=r["content"]) for r in history_rows]
        messages = build_messages(
            conversation["system_prompt"] or runtime_config.default_system_prompt(),
            history,
            question,
            sources,
            runtime_config.prompt_token_budget(),
        )
        answer, key = generate(
            caller,
            messages,
            model=conversation["model"],
            sources=sources,
            deps=deps,
            deadline_s=deadline_s,
            on_delta=on_delta,
        )
        with db.connection() as conn:
            messages_repo = MessageRepository(conn)
            reply = messages_repo.add(
                caller.user_id,
                conversation_id,
                role="assistant",
                content=answer.content,
                prompt_tokens=answer.usage.prompt_tokens,
                completion_tokens=answer.usage.completion_tokens,
                cost=answer.cost,
                model=answer.model,
                latency_ms=answer.latency_ms,
                sources=[s.public() for s in sources],
                cached=answer.cached,
            )
            messages_repo.set_status(caller.user_id, user_message["id"], "ok")
            ConversationRepository(conn).count_messages_added(caller.user_id, conversation_id, 1)
            record_usage(UsageRepository(conn), caller, answer)
    except ClawError as exc:
        _mark_failed(caller, user_message["id"], exc.slug)
        raise
    except Exception:
        _mark_failed(caller, user_message["id"], "internal")
        raise
    remember(deps, key, answer)
    conversations_changed(caller.user_id)
    # What operators need, never the question or the answer.
    logger.info(
        "chat answered",
        extra={
            "conversation_id": conversation_id,
            "message_id": reply["id"],
            "model": answer.model,
            "cached": answer.cached,
            "sources": len(sources),
            "total_tokens": answer.usage.total_tokens,
            "latency_ms": answer.latency_ms,
            "streamed": on_delta is not None,
        },
    )

    return ChatResponse(
        message_id=reply["id"],
        user_message_id=user_message["id"],
        conversation_id=conversation_id,
        content=answer.content,
        model=answer.model,
        cached=answer.cached,
        sources=[s.public() for s in sources],
        usage=answer.usage_out(),
        latency_ms=answer.latency_ms,
        created_at=reply["created_at"],
    )
