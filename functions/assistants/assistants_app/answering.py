"""How an assistant answers a question (visitor chat over REST and WebSocket, OpenAI-compatible calls).

1. The question is stored first (its conversation is created on its first message).
2. Retrieval over the assistant's knowledge bases, searched as the owner. An assistant with
   knowledge bases follows the no-answer policy: no relevant source → its no-answer message
   (or a polite default in the question's language), ``no_answer: true``, no model call.
   Without knowledge bases it is a plain chat assistant.
3. The assistant's monthly token budget, then the owner's monthly quota, are checked before
   the model is called; when either is used up the visitor gets a friendly sentence
   (``limited``) and nothing is billed.
4. The shared pipeline builds the prompt, asks the answer cache then the model (streamed with
   ``on_delta``) and bills the owner's ledger. A reply in which the model says the sources do
   not answer (:func:`reply_declines`) also counts as no answer.
5. The answer, its sources and its tokens are stored with the ledger row in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from assistants_app.conversations import ConversationRepository
from claw_ai import runtime_config
from claw_ai.answering.ledger import UsageRepository, check_quota
from claw_ai.answering.pipeline import AnswerDeps, OnDelta, build_messages, generate, record_usage, remember
from claw_ai.llm import stream_pieces
from claw_ai.messages import ChatMessage
from claw_ai.retrieval.sources import Source
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.errors import Forbidden, QuotaExceeded
from claw_common.observability import MetricUnit, emit_metric, logger

TOP_K = 5
HISTORY_MAX_MESSAGES = 20
"""Most earlier messages of the visitor's conversation given to the model (then fitted to the token budget)."""

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_CITATION = re.compile(r"\[\d{1,2}\]")
_DECLINES = re.compile(
    r"(?:do(?:es)?\s*n[o']t\s+(?:contain|include|mention|cover|provide)|not\s+(?:mentioned|covered|found|included)"
    r"\s+in\s+the\s+(?:sources|provided|documents|context)|no\s+source\s+matched|cannot\s+answer|can't\s+answer"
    r"|unable\s+to\s+(?:answer|find)|资料中(?:没有|未|并未)|没有(?:找到)?(?:相关|匹配)|无法回答|未提及|没有提到|未找到)",
    re.IGNORECASE,
)

NO_ANSWER_DEFAULT = {
    "en": "Sorry, I couldn't find an answer to that in our documentation. Please rephrase your question or "
    "contact us directly.",
    "zh": "抱歉，我们的资料中没有找到这个问题的答案。请换个说法再问，或直接联系我们。",
}
LIMITED_DEFAULT = {
    "en": "Sorry, this assistant can't answer more questions right now. Please try again later or contact us directly.",
    "zh": "抱歉，该助手暂时无法回答更多问题。请稍后再试，或直接联系我们。",
}


def has_cjk(text: str) -> bool:
    """True when ``text`` contains Chinese, Japanese or Korean characters."""
    return _CJK.search(text) is not None


def default_no_answer(question: str) -> str:
    """The no-answer sentence in the question's language (Chinese when it has CJK characters)."""
    return NO_ANSWER_DEFAULT["zh" if has_cjk(question) else "en"]


def limited_message(question: str) -> str:
    """The friendly sentence for a used-up budget or quota, in the question's language."""
    return LIMITED_DEFAULT["zh" if has_cjk(question) else "en"]


def reply_declines(text: str) -> bool:
    """True when the model's reply says its sources do not answer the question.

    A reply that cites a source (``[n]``) answered at least in part, whatever else it says.
    """
    return not _CITATION.search(text) and _DECLINES.search(text) is not None


def month_start(now: datetime | None = None) -> datetime:
    current = now or datetime.now(UTC)
    return datetime(current.year, current.month, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Question:
    """A question put to an assistant, with where it is recorded."""

    assistant: dict[str, object]
    payer: Caller
    conversation_id: str
    text: str
    channel: str = "widget"
    visitor_id: str | None = None
    origin: str | None = None
    history: list[ChatMessage] | None = None
    """Given by the client (OpenAI-compatible calls); None = the stored conversation's."""


@dataclass(frozen=True)
class Reply:
    """An assistant's stored answer."""

    message_id: str
    conversation_id: str
    content: str
    sources: list[Source] = field(default_factory=list)
    no_answer: bool = False
    limited: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None


def _say(text: str, on_delta: OnDelta | None) -> None:
    if on_delta is not None:
        for piece in stream_pieces(text):
            on_delta(piece)


def _start(question: Question) -> list[ChatMessage]:
    """Store the question (creating the conversation); the history before it."""
    with db.connection() as conn:
        repo = ConversationRepository(conn)
        if not repo.open(
            question.conversation_id,
            question.assistant,
            channel=question.channel,
            visitor_id=question.visitor_id,
            origin=question.origin,
        ):
            raise Forbidden("This session belongs to another assistant.")
        rows = [] if question.history is not None else repo.history(question.conversation_id, HISTORY_MAX_MESSAGES)
        repo.add_message(question.conversation_id, question.assistant, role="user", content=question.text)
    if question.history is not None:
        return question.history
    return [ChatMessage(role=r["role"], content=r["content"]) for r in rows]


def _limit_reached(question: Question) -> str | None:
    """``budget`` or ``quota`` when the model must not be called, else None."""
    assistant = question.assistant
    budget = assistant.get("monthly_token_budget")
    with db.connection() as conn:
        if budget is not None:
            used = ConversationRepository(conn).tokens_since(str(assistant["id"]), month_start())
            if used >= int(str(budget)):
                return "budget"
        try:
            check_quota(conn, question.payer.user_id, question.payer.tier)
        except QuotaExceeded:
            return "quota"
    return None


def ask(
    question: Question,
    deps: AnswerDeps,
    *,
    deadline_s: float | None = None,
    on_delta: OnDelta | None = None,
) -> Reply:
    """Answer ``question`` as its assistant (see the module docstring); the stored reply."""
    assistant = question.assistant
    history = _start(question)
    public_id = str(assistant["public_id"])
    emit_metric("AssistantQuestions", MetricUnit.Count, 1, assistant=public_id)
    kb_ids = [str(k) for k in (assistant.get("knowledge_base_ids") or [])]  # type: ignore[attr-defined]
    sources: list[Source] = []
    if kb_ids:
        with db.connection() as conn:
            sources = list(
                deps.retriever.search(
                    conn, owner_id=question.payer.user_id, kb_ids=kb_ids, question=question.text, top_k=TOP_K
                )
            )
        if not sources:
            return _no_answer(question, on_delta)

    limited = _limit_reached(question)
    if limited is not None:
        return _limited(question, limited, on_delta)

    messages = build_messages(
        str(assistant.get("system_prompt") or runtime_config.default_system_prompt()),
        history,
        question.text,
        sources,
        runtime_config.prompt_token_budget(),
    )
    try:
        answer, key = generate(
            question.payer,
            messages,
            model=str(assistant["model"]),
            sources=sources,
            deps=deps,
            deadline_s=deadline_s,
            on_delta=on_delta,
        )
    except QuotaExceeded:
        return _limited(question, "quota", on_delta)

    content = answer.content
    no_answer = bool(kb_ids) and reply_declines(content)
    if no_answer:
        sources = []
        extra_text = str(assistant.get("no_answer_message") or "")
        if extra_text:
            _say("\n\n" + extra_text, on_delta)
            content = f"{content}\n\n{extra_text}"
        emit_metric("AssistantNoAnswer", MetricUnit.Count, 1, assistant=public_id)

    with db.connection() as conn:
        row = ConversationRepository(conn).add_message(
            question.conversation_id,
            assistant,
            role="assistant",
            content=content,
            sources=[s.public() for s in sources],
            no_answer=no_answer,
            prompt_tokens=answer.usage.prompt_tokens,
            completion_tokens=answer.usage.completion_tokens,
            cost=answer.cost,
            model=answer.model,
            latency_ms=answer.latency_ms,
            cached=answer.cached,
        )
        record_usage(UsageRepository(conn), question.payer, answer)
    remember(deps, key, answer)
    logger.info(
        "assistant answered",
        extra={
            "assistant": public_id,
            "conversation_id": question.conversation_id,
            "channel": question.channel,
            "sources": len(sources),
            "no_answer": no_answer,
            "cached": answer.cached,
            "total_tokens": answer.usage.total_tokens,
        },
    )
    return Reply(
        message_id=row["id"],
        conversation_id=question.conversation_id,
        content=content,
        sources=sources,
        no_answer=no_answer,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        model=answer.model,
    )


def _canned(question: Question, content: str, *, no_answer: bool, limited: str | None) -> Reply:
    """Store an answer given without the model (nothing billed)."""
    with db.connection() as conn:
        row = ConversationRepository(conn).add_message(
            question.conversation_id,
            question.assistant,
            role="assistant",
            content=content,
            no_answer=no_answer,
            limited=limited,
        )
    return Reply(
        message_id=row["id"],
        conversation_id=question.conversation_id,
        content=content,
        no_answer=no_answer,
        limited=limited,
    )


def _no_answer(question: Question, on_delta: OnDelta | None) -> Reply:
    content = str(question.assistant.get("no_answer_message") or "") or default_no_answer(question.text)
    _say(content, on_delta)
    emit_metric("AssistantNoAnswer", MetricUnit.Count, 1, assistant=str(question.assistant["public_id"]))
    return _canned(question, content, no_answer=True, limited=None)


def _limited(question: Question, reason: str, on_delta: OnDelta | None) -> Reply:
    content = limited_message(question.text)
    _say(content, on_delta)
    emit_metric("AssistantLimited", MetricUnit.Count, 1, assistant=str(question.assistant["public_id"]), reason=reason)
    logger.info("assistant limited", extra={"assistant": question.assistant["public_id"], "reason": reason})
    return _canned(question, content, no_answer=False, limited=reason)
