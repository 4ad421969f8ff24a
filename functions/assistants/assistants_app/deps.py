"""What the routes share: the answer pipeline's adapters and the model's deadline."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from claw_ai.answering.pipeline import DEFAULT_DEADLINE_S, AnswerDeps, default_deps

RESPONSE_RESERVE_S = 3.0
"""Time kept back to store the answer and respond after the model is done."""
MIN_DEADLINE_S = 1.0


def answer_deps() -> AnswerDeps:
    """The process's adapters (provider from the current settings; retriever and cache built once)."""
    return default_deps()


def deadline_from(context: Any) -> float:
    """How long the model may take: the invocation's remaining time minus a reserve, at most the default."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return DEFAULT_DEADLINE_S
    return max(MIN_DEADLINE_S, min(DEFAULT_DEADLINE_S, remaining_ms() / 1000 - RESPONSE_RESERVE_S))


def model_deadline_s(request: Request) -> float:
    return deadline_from(request.scope.get("aws.context"))
