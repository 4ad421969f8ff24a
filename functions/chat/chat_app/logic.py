"""Chat logic: conversations, messages, answers with accounting, usage reports.

Routes call these functions with the caller from the authorizer context; they return plain
dicts shaped like the response models. Adapters come in through ``deps``
(:class:`chat_app.providers.ChatDeps`); the database through ``claw_common.db.connection()``.

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

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from chat_app import runtime_config
from chat_app.answer_cache import CachedAnswer, cache_key
from chat_app.models import ChatRequest, ConversationCreate, ConversationPage, ConversationUpdate, MessageCreate
from chat_app.providers import ChatDeps, default_deps
from chat_app.rag import Source
from chat_app.repositories import (
    ConversationRepository,
    MessageRepository,
    UsageRepository,
    owns_knowledge_base,
    user_tier,
)
from claw_common import db
from claw_common.cache_aside import CacheAside, hash_key
from claw_common.errors import (
    ClawError,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    UpstreamError,
    ValidationFailed,
)
from claw_common.llm import ChatMessage, Completion, Passage, StreamDelta, Usage, fence_passages, stream_pieces
from claw_common.observability import MetricUnit, emit_metric, logger, metrics
from claw_common.pagination import decode_cursor, encode_cursor, invalid_cursor
from claw_common.pricing import cost_for
from claw_common.security import Caller
from claw_common.tokens_count import count_tokens, fit_history

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

HISTORY_MAX_MESSAGES = 50
"""Most history turns read from the database before trimming to the token budget."""
DEFAULT_DEADLINE_S = 25.0
"""Time the model may take when the caller gives no deadline (fits a 29 s API Gateway request)."""
MAX_USAGE_RANGE_DAYS = 366
DEFAULT_USAGE_RANGE_DAYS = 30

OnDelta = Callable[[str], None]
"""Receives each piece of answer text, in order, as it is produced (must not raise)."""


# --------------------------------------------------------------------------- helpers


def _not_found(what: str = "Conversation") -> NotFound:
    return NotFound(f"{what} not found.")


def _require_uuid(value: str, what: str = "Conversation") -> str:
    # A malformed id is as unknown as a missing one (and must not reach the uuid cast in SQL).
    if not _UUID.match(value or ""):
        raise _not_found(what)
    return value.lower()


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _month_start(today: date) -> date:
    return today.replace(day=1)


def _next_month(today: date) -> datetime:
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime(following.year, following.month, following.day, tzinfo=UTC)


def _require_knowledge_base(conn: Any, caller: Caller, knowledge_base_id: str | None) -> None:
    # Another user's knowledge base is as unknown as a missing one: linking it would be refused anyway.
    if knowledge_base_id and not owns_knowledge_base(conn, caller.user_id, knowledge_base_id):
        raise _not_found("Knowledge base")


def conversation_out(row: dict[str, Any]) -> dict[str, Any]:
    """A conversation row as the API shows it."""
    return {k: row[k] for k in row if k != "user_id"}


def message_out(row: dict[str, Any]) -> dict[str, Any]:
    """A message row as the API shows it."""
    out = {k: row[k] for k in row if k != "seq"}
    out["tokens"] = int(row["prompt_tokens"]) + int(row["completion_tokens"])
    out["cost"] = float(row["cost"])
    return out


# --------------------------------------------------------------------------- conversations


@lru_cache(maxsize=1)
def _conversation_pages() -> CacheAside[ConversationPage]:
    """Cache-aside of conversation list pages, one namespace per user: any change to one of
    the user's conversations (created, changed, deleted, a message added) drops them all."""
    return CacheAside("conversation_list", ttl_s=60, model=ConversationPage)


def conversations_changed(user_id: str) -> None:
    """Drop the user's cached conversation lists (call after the change is committed)."""
    # After the commit: a reader that loaded the old page before it cannot store it afterwards.
    _conversation_pages().invalidate_namespace(f"user:{user_id}")


def create_conversation(caller: Caller, body: ConversationCreate) -> dict[str, Any]:
    """Create a conversation of the caller; its model is the configured default unless given."""
    model = body.model or runtime_config.default_model()
    with db.connection() as conn:
        _require_knowledge_base(conn, caller, body.knowledge_base_id)
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
) -> dict[str, Any]:
    """The caller's conversations, most recently active first, one page at a time (cached)."""

    def load() -> ConversationPage:
        return ConversationPage.model_validate(
            _load_conversations(caller, limit=limit, cursor=cursor, status=status, conversation_type=conversation_type)
        )

    key = hash_key(limit, cursor, status, conversation_type)
    page = _conversation_pages().get_or_load(key, load, namespace=f"user:{caller.user_id}")
    return page.model_dump()


def _load_conversations(
    caller: Caller,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    conversation_type: str | None,
) -> dict[str, Any]:
    after: tuple[datetime, str] | None = None
    if cursor:
        data = decode_cursor(cursor)
        try:
            after = (datetime.fromisoformat(data[0]), _require_uuid(data[1]))
        except (TypeError, ValueError, IndexError, KeyError, NotFound) as exc:
            raise invalid_cursor() from exc
    with db.connection() as conn:
        rows = ConversationRepository(conn).page(
            caller.user_id, limit=limit + 1, after=after, status=status, conversation_type=conversation_type
        )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last["updated_at"].isoformat(), last["id"]])
    return {"items": [conversation_out(r) for r in rows], "next_cursor": next_cursor}


def get_conversation(caller: Caller, conversation_id: str) -> dict[str, Any]:
    """The caller's conversation, or 404."""
    conversation_id = _require_uuid(conversation_id)
    with db.connection() as conn:
        row = ConversationRepository(conn).get(caller.user_id, conversation_id)
    if row is None:
        raise _not_found()
    return conversation_out(row)


# Null clears these; for the other fields null means "leave as is" (they cannot be empty).
_NULLABLE = frozenset({"system_prompt", "knowledge_base_id"})


def update_conversation(caller: Caller, conversation_id: str, body: ConversationUpdate) -> dict[str, Any]:
    """Change the fields present in ``body``; 404 when the conversation is not the caller's."""
    conversation_id = _require_uuid(conversation_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in _NULLABLE}
    with db.connection() as conn:
        repo = ConversationRepository(conn)
        row = (
            repo.update(caller.user_id, conversation_id, changes)
            if changes
            else repo.get(caller.user_id, conversation_id)
        )
    if row is None:
        raise _not_found()
    if changes:
        conversations_changed(caller.user_id)
    return conversation_out(row)


def delete_conversation(caller: Caller, conversation_id: str) -> None:
    """Delete the caller's conversation and its messages (usage already billed stays in the ledger)."""
    conversation_id = _require_uuid(conversation_id)
    with db.connection() as conn:
        if not ConversationRepository(conn).delete(caller.user_id, conversation_id):
            raise _not_found()
    conversations_changed(caller.user_id)


# --------------------------------------------------------------------------- messages


def add_message(caller: Caller, conversation_id: str, body: MessageCreate) -> dict[str, Any]:
    """Store a message without asking the model (it becomes history for later answers)."""
    conversation_id = _require_uuid(conversation_id)
    with db.connection() as conn:
        conversations = ConversationRepository(conn)
        if conversations.get(caller.user_id, conversation_id, for_update=True) is None:
            raise _not_found()
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


def list_messages(caller: Caller, conversation_id: str, *, limit: int, cursor: str | None = None) -> dict[str, Any]:
    """The conversation's messages, oldest first, one page at a time."""
    conversation_id = _require_uuid(conversation_id)
    after_seq: int | None = None
    if cursor:
        data = decode_cursor(cursor)
        if not isinstance(data, int) or isinstance(data, bool) or data < 0:
            raise invalid_cursor()
        after_seq = data
    with db.connection() as conn:
        if ConversationRepository(conn).get(caller.user_id, conversation_id) is None:
            raise _not_found()
        rows = MessageRepository(conn).page(caller.user_id, conversation_id, limit=limit + 1, after_seq=after_seq)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["seq"])
    return {"items": [message_out(r) for r in rows], "next_cursor": next_cursor}


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """A generated (or cached) answer and what it cost."""

    content: str
    model: str
    cached: bool
    usage: Usage
    cost: Decimal
    latency_ms: int
    sources: list[Source] = field(default_factory=list)
    finish_reason: str | None = None

    def usage_out(self) -> dict[str, Any]:
        """``usage`` as the API shows it."""
        return {
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "total_tokens": self.usage.total_tokens,
            "cost": float(self.cost),
        }


def build_messages(
    system_prompt: str,
    history: Sequence[ChatMessage],
    question: str,
    sources: Sequence[Source],
    budget: int,
) -> list[ChatMessage]:
    """The request for the model: system prompt (+ fenced sources), history fitted to ``budget``, question.

    Sources go into the system message after the prompt, fenced as untrusted data (see
    ``claw_common.llm.fence_passages``); they are never dropped to fit the budget, history is.
    """
    fenced = fence_passages([s.to_passage() for s in sources])
    system = f"{system_prompt}\n\n{fenced}" if fenced else system_prompt
    return fit_history(system, list(history), question, budget)


def _check_quota(caller: Caller) -> None:
    """429 (quota-exceeded) when the caller's tokens this month reached the tier's quota."""
    quota = runtime_config.monthly_token_quota(caller.tier)
    today = _utc_today()
    with db.connection() as conn:
        used = UsageRepository(conn).tokens_since(caller.user_id, _month_start(today))
    if used >= quota:
        resets_at = _next_month(today)
        metrics.add_metric(name="QuotaExceeded", unit=MetricUnit.Count, value=1)
        raise QuotaExceeded(
            f"The monthly token quota of the {caller.tier} tier ({quota} tokens) is used up; "
            f"it resets on {resets_at.date().isoformat()}.",
            retry_after=int((resets_at - datetime.now(UTC)).total_seconds()),
            extra={"quota_tokens": quota, "used_tokens": used, "resets_at": resets_at.isoformat()},
        )


def _generate(
    caller: Caller,
    messages: list[ChatMessage],
    *,
    model: str,
    sources: list[Source],
    deps: ChatDeps,
    deadline_s: float | None,
    on_delta: OnDelta | None = None,
) -> tuple[Answer, str]:
    """The answer to ``messages``: from the cache, else (quota permitting) from the model. No writes.

    With ``on_delta`` the model is streamed and each piece of text goes to ``on_delta`` as it
    arrives; a cached answer is handed over in small pieces too.
    """
    started = time.monotonic()
    key = cache_key(caller.user_id, model, messages)
    hit = deps.cache.get(key)
    if hit is not None:
        metrics.add_metric(name="CacheHit", unit=MetricUnit.Count, value=1)
        emit_metric("CacheHit", MetricUnit.Count, 1, cache="answer")
        if on_delta is not None:
            for piece in stream_pieces(hit.content):
                on_delta(piece)
        latency = max(0, round((time.monotonic() - started) * 1000))
        return Answer(hit.content, hit.model, True, Usage.of(0, 0), Decimal(0), latency, sources, "stop"), key
    metrics.add_metric(name="CacheMiss", unit=MetricUnit.Count, value=1)
    emit_metric("CacheMiss", MetricUnit.Count, 1, cache="answer")
    _check_quota(caller)
    context = [s.to_passage() for s in sources]
    deadline = DEFAULT_DEADLINE_S if deadline_s is None else deadline_s
    if on_delta is None:
        completion = deps.provider.complete(messages, model=model, context=context, deadline_s=deadline)
    else:
        completion = _stream_completion(deps, messages, model, context, deadline, on_delta)
    # Usage is frozen; pricing's TokenUsage protocol only reads the two counts.
    cost = cost_for(completion.model, completion.usage, runtime_config.price_table())  # type: ignore[arg-type]
    # Service-only series feed the spend alarm; the per-model ones feed the dashboard.
    metrics.add_metric(name="TokensUsed", unit=MetricUnit.Count, value=completion.usage.total_tokens)
    emit_metric("TokensUsed", MetricUnit.Count, completion.usage.total_tokens, model=completion.model)
    emit_metric("LLMLatency", MetricUnit.Milliseconds, completion.latency_ms, model=completion.model)
    answer = Answer(
        completion.content,
        completion.model,
        False,
        completion.usage,
        cost,
        completion.latency_ms,
        sources,
        completion.finish_reason,
    )
    return answer, key


def _stream_completion(
    deps: ChatDeps,
    messages: list[ChatMessage],
    model: str,
    context: list[Passage],
    deadline_s: float,
    on_delta: OnDelta,
) -> Completion:
    """Stream the model's answer into ``on_delta``; the provider's final ``Completion`` (text and usage)."""
    completion: Completion | None = None
    for event in deps.provider.stream(messages, model=model, context=context, deadline_s=deadline_s):
        if isinstance(event, StreamDelta):
            if event.text:
                on_delta(event.text)
        elif isinstance(event, Completion):
            completion = event
    if completion is None:
        # A provider must end its stream with the Completion; without it there is no usage to bill.
        raise UpstreamError("The AI provider's stream ended without a final answer.")
    return completion


def _remember(deps: ChatDeps, key: str, answer: Answer) -> None:
    # Only complete, freshly generated answers: a cut-off or filtered one must not be served again.
    if not answer.cached and answer.content and answer.finish_reason in (None, "stop"):
        deps.cache.put(key, CachedAnswer(answer.content, answer.model), runtime_config.answer_cache_ttl_s())


def answer_question(
    caller: Caller,
    question: str,
    sources: Sequence[Source],
    *,
    model: str | None = None,
    system_prompt: str | None = None,
    history: Sequence[ChatMessage] = (),
    deadline_s: float | None = None,
    deps: ChatDeps | None = None,
) -> Answer:
    """Answer ``question`` from ``sources`` without a conversation (e.g. a knowledge query with ``answer``).

    Same rules as chat: the answer cache first (not billed), then the caller's monthly quota
    (``QuotaExceeded``, before the model is called), then the model; the tokens and cost go
    to the caller's usage ledger. Provider failures raise as the provider raises them
    (``UpstreamUnavailable`` 503, ``UpstreamError`` 502, ``UpstreamTimeout`` 504).
    """
    deps = deps or default_deps()
    messages = build_messages(
        system_prompt or runtime_config.default_system_prompt(),
        history,
        question,
        list(sources),
        runtime_config.prompt_token_budget(),
    )
    answer, key = _generate(
        caller,
        messages,
        model=model or runtime_config.default_model(),
        sources=list(sources),
        deps=deps,
        deadline_s=deadline_s,
    )
    with db.connection() as conn:
        _record_usage(UsageRepository(conn), caller, answer)
    _remember(deps, key, answer)
    return answer


def _record_usage(ledger: UsageRepository, caller: Caller, answer: Answer) -> None:
    ledger.record(
        caller.user_id,
        answer.model,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        cost=answer.cost,
        cached=answer.cached,
    )
    if not answer.cached:
        metrics.add_metric(name="Cost", unit=MetricUnit.NoUnit, value=float(answer.cost))
        emit_metric("Cost", MetricUnit.NoUnit, float(answer.cost), model=answer.model)


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
    deps: ChatDeps | None = None,
    on_delta: OnDelta | None = None,
) -> dict[str, Any]:
    """Store the user's message, answer it (with sources when a knowledge base applies), store the answer.

    See the module docstring for exactly what is stored on success and on failure. With
    ``on_delta`` the answer is streamed: each piece of text is passed to it as it arrives
    (before anything is stored); the return value and the stored rows are the same.
    """
    conversation_id = _require_uuid(conversation_id)
    deps = deps or default_deps()
    question = request.message

    with db.connection() as conn:
        conversations = ConversationRepository(conn)
        conversation = conversations.get(caller.user_id, conversation_id, for_update=True)
        if conversation is None:
            raise _not_found()
        if conversation["status"] == "archived":
            raise Conflict("The conversation is archived; set its status to active to continue it.")
        _require_knowledge_base(conn, caller, request.knowledge_base_id)
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
        answer, key = _generate(
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
            _record_usage(UsageRepository(conn), caller, answer)
    except ClawError as exc:
        _mark_failed(caller, user_message["id"], exc.slug)
        raise
    except Exception:
        _mark_failed(caller, user_message["id"], "internal")
        raise
    _remember(deps, key, answer)
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

    return {
        "message_id": reply["id"],
        "user_message_id": user_message["id"],
        "conversation_id": conversation_id,
        "content": answer.content,
        "model": answer.model,
        "cached": answer.cached,
        "sources": [s.public() for s in sources],
        "usage": answer.usage_out(),
        "latency_ms": answer.latency_ms,
        "created_at": reply["created_at"],
    }


# --------------------------------------------------------------------------- usage


def usage_report(
    caller: Caller,
    *,
    user_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """Tokens and cost by day and model from ``start`` to ``end`` (UTC, inclusive), with the month's quota.

    Defaults: the last 30 days. Only admins may name another ``user_id`` (403 otherwise);
    an unknown user is 404.
    """
    target = (user_id or caller.user_id).lower()
    if target != caller.user_id.lower() and not caller.is_admin:
        raise Forbidden("Only admins may read another user's usage.")
    today = _utc_today()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_USAGE_RANGE_DAYS - 1)
    if start > end:
        raise ValidationFailed(
            "start must not be after end.",
            errors=[{"loc": ["query", "start"], "msg": "start is after end", "type": "value_error"}],
        )
    if (end - start).days >= MAX_USAGE_RANGE_DAYS:
        raise ValidationFailed(
            f"The range may span at most {MAX_USAGE_RANGE_DAYS} days.",
            errors=[{"loc": ["query", "start"], "msg": "range too long", "type": "value_error"}],
        )
    with db.connection() as conn:
        tier: str | None = caller.tier
        if target != caller.user_id.lower():
            tier = user_tier(conn, _require_uuid(target, "User"))
        if tier is None:
            raise _not_found("User")
        ledger = UsageRepository(conn)
        rows = ledger.by_day_and_model(target, start, end)
        used = ledger.tokens_since(target, _month_start(today))
    items = [{**r, "cost": float(r["cost"])} for r in rows]
    totals: dict[str, Any] = {
        name: sum(int(r[name]) for r in rows)
        for name in ("requests", "cached_requests", "prompt_tokens", "completion_tokens", "total_tokens")
    }
    totals["cost"] = float(sum((Decimal(r["cost"]) for r in rows), Decimal(0)))
    quota = runtime_config.monthly_token_quota(tier)
    return {
        "user_id": target,
        "start": start,
        "end": end,
        "items": items,
        "totals": totals,
        "quota": {
            "tier": tier,
            "monthly_tokens": quota,
            "used_tokens": used,
            "remaining_tokens": max(0, quota - used),
            "resets_at": _next_month(today),
        },
    }
