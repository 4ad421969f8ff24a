"""Visitors' routes: ``/api/v1/public/assistants/{public_id}/…`` (no authorizer; session tokens
are verified in ``visitor_logic``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from assistants_app import visitor_logic
from assistants_app.deps import answer_deps, model_deadline_s
from assistants_app.models import Feedback, FeedbackIn, VisitorAnswer, VisitorQuestion, VisitorSession
from claw_common.http.app import api_router

router = api_router("/public/assistants/{public_id}", tags=["visitors"])


@router.post(
    "/sessions",
    status_code=201,
    response_model=VisitorSession,
    summary="Start (or, with the current token as bearer, renew) a visitor session",
)
def start_session(public_id: str, request: Request) -> Any:
    return visitor_logic.start_session(
        public_id, origin=request.headers.get("origin"), authorization=request.headers.get("authorization")
    )


@router.post("/chat", response_model=VisitorAnswer, summary="Ask the assistant (visitor session token as bearer)")
def chat(public_id: str, body: VisitorQuestion, request: Request) -> Any:
    claims = visitor_logic.visitor(public_id, request.headers.get("authorization"), request.headers.get("origin"))
    return visitor_logic.chat(public_id, claims, body.message, answer_deps(), deadline_s=model_deadline_s(request))


@router.post("/feedback", response_model=Feedback, summary="Rate an answer (visitor session token as bearer)")
def feedback(public_id: str, body: FeedbackIn, request: Request) -> Any:
    claims = visitor_logic.visitor(public_id, request.headers.get("authorization"), request.headers.get("origin"))
    return visitor_logic.give_feedback(public_id, claims, body)
