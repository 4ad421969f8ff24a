"""The answer pipeline every answering route shares: chat, knowledge queries, assistants.

Sources are fenced into the system message, history is fitted to the token budget, the
answer cache is asked first (a hit is not billed), then the payer's monthly quota is
checked before the model is called; the usage goes to the payer's ledger. Adapters come in
through :class:`AnswerDeps` so tests can pass a provider pointed at the local Zhipu fake.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from claw_ai import runtime_config
from claw_ai.answer_cache import AnswerCache, CachedAnswer, cache_key
from claw_ai.answering.ledger import UsageRepository, check_quota
from claw_ai.llm import LLMProvider, fence_passages, stream_pieces
from claw_ai.messages import ChatMessage, Completion, Passage, StreamDelta, Usage
from claw_ai.pricing import cost_for
from claw_ai.retrieval.sources import Retriever, Source
from claw_ai.tokens import fit_history
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.errors import UpstreamError
from claw_common.observability import MetricUnit, emit_metric, metrics

DEFAULT_DEADLINE_S = 25.0
"""Time the model may take when the caller gives no deadline (fits a 29 s API Gateway request)."""

OnDelta = Callable[[str], None]
"""Receives each piece of answer text, in order, as it is produced (must not raise)."""


@dataclass(frozen=True)
class AnswerDeps:
    """The adapters the answer pipeline uses."""

    provider: LLMProvider
    retriever: Retriever
    cache: AnswerCache


def default_deps() -> AnswerDeps:
    """The adapters of this process (each cached once per cold start)."""
    from claw_ai.providers import get_llm_provider
    from claw_ai.retrieval.retriever import get_retriever
    from claw_common.data.cache import get_redis
    from claw_common.settings import get_settings

    return AnswerDeps(
        provider=get_llm_provider(get_settings()),
        retriever=get_retriever(),
        cache=AnswerCache(get_redis),
    )


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

    def usage_out(self) -> dict[str, int | float]:
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
    ``claw_ai.llm.fence_passages``); they are never dropped to fit the budget, history is.
    """
    fenced = fence_passages([s.to_passage() for s in sources])
    system = f"{system_prompt}\n\n{fenced}" if fenced else system_prompt
    return fit_history(system, list(history), question, budget)


def generate(
    payer: Caller,
    messages: list[ChatMessage],
    *,
    model: str,
    sources: list[Source],
    deps: AnswerDeps,
    deadline_s: float | None,
    on_delta: OnDelta | None = None,
) -> tuple[Answer, str]:
    """The answer to ``messages``: from the cache, else (quota permitting) from the model. No writes.

    With ``on_delta`` the model is streamed and each piece of text goes to ``on_delta`` as it
    arrives; a cached answer is handed over in small pieces too. Returns the answer and its cache key.
    """
    started = time.monotonic()
    key = cache_key(payer.user_id, model, messages)
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
    with db.connection() as conn:
        check_quota(conn, payer.user_id, payer.tier)
    context = [s.to_passage() for s in sources]
    deadline = DEFAULT_DEADLINE_S if deadline_s is None else deadline_s
    if on_delta is None:
        completion = deps.provider.complete(messages, model=model, context=context, deadline_s=deadline)
    else:
        completion = stream_completion(deps.provider, messages, model, context, deadline, on_delta)
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


def stream_completion(
    provider: LLMProvider,
    messages: list[ChatMessage],
    model: str,
    context: list[Passage],
    deadline_s: float,
    on_delta: OnDelta,
) -> Completion:
    """Stream the model's answer into ``on_delta``; the provider's final ``Completion`` (text and usage)."""
    completion: Completion | None = None
    for event in provider.stream(messages, model=model, context=context, deadline_s=deadline_s):
        if isinstance(event, StreamDelta):
            if event.text:
                on_delta(event.text)
        elif isinstance(event, Completion):
            completion = event
    if completion is None:
        # A provider must end its stream with the Completion; without it there is no usage to bill.
        raise UpstreamError("The AI provider's stream ended without a final answer.")
    return completion


def remember(deps: AnswerDeps, key: str, answer: Answer) -> None:
    """Keep a complete, freshly generated answer in the answer cache (never a cut-off or filtered one)."""
    if not answer.cached and answer.content and answer.finish_reason in (None, "stop"):
        deps.cache.put(key, CachedAnswer(answer.content, answer.model), runtime_config.answer_cache_ttl_s())


def record_usage(ledger: UsageRepository, payer: Caller, answer: Answer) -> None:
    """Bill ``answer`` to ``payer``'s ledger (a cached answer counts as a request without tokens)."""
    ledger.record(
        payer.user_id,
        answer.model,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        cost=answer.cost,
        cached=answer.cached,
    )
    if not answer.cached:
        metrics.add_metric(name="Cost", unit=MetricUnit.NoUnit, value=float(answer.cost))
        emit_metric("Cost", MetricUnit.NoUnit, float(answer.cost), model=answer.model)


def answer_question(
    payer: Caller,
    question: str,
    sources: Sequence[Source],
    *,
    model: str | None = None,
    system_prompt: str | None = None,
    history: Sequence[ChatMessage] = (),
    deadline_s: float | None = None,
    deps: AnswerDeps | None = None,
) -> Answer:
    """Answer ``question`` from ``sources`` without a conversation (e.g. a knowledge query with ``answer``).

    Same rules as chat: the answer cache first (not billed), then the payer's monthly quota
    (``QuotaExceeded``, before the model is called), then the model; the tokens and cost go
    to the payer's usage ledger. Provider failures raise as the provider raises them
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
    answer, key = generate(
        payer,
        messages,
        model=model or runtime_config.default_model(),
        sources=list(sources),
        deps=deps,
        deadline_s=deadline_s,
    )
    with db.connection() as conn:
        record_usage(UsageRepository(conn), payer, answer)
    remember(deps, key, answer)
    return answer
