"""Visitors of an assistant: sessions (a short-lived token of their own), questions and feedback.

A visitor has no account. ``POST …/sessions`` gives them a session token (audience
``claw-visitor``) bound to the assistant, their conversation and the page's origin; the chat and
feedback routes take it as ``Authorization: Bearer``. The REST authorizer never sees these
routes (they are public in the template) and refuses visitor tokens everywhere else, so this
module is where they are verified.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from assistants_app import answering
from assistants_app.conversations import ConversationRepository
from assistants_app.models import AssistantIntro, Feedback, FeedbackIn, VisitorAnswer, VisitorSession
from assistants_app.repository import AssistantRepository
from claw_ai.answering.pipeline import AnswerDeps, OnDelta
from claw_ai.retrieval.sources import CitedSource
from claw_common.auth import tokens, visitor_tokens
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.errors import Forbidden, NotFound, RateLimited, Unauthorized
from claw_common.observability import MetricUnit, emit_metric, logger, metrics
from claw_common.settings import get_settings


@lru_cache(maxsize=1)
def key_ring() -> tokens.KeyRing:
    """The platform's signing keys (the auth API's), read once per container."""
    from claw_common.aws import aws_client

    settings = get_settings()
    local = settings.jwt_signing_keys.get_secret_value() if settings.jwt_signing_keys else None
    return tokens.load_key_ring(local, settings.jwt_secret_arn, lambda: aws_client("secretsmanager"))


def not_found() -> NotFound:
    return NotFound("No such assistant, or it is not active.")


def public_assistant(public_id: str) -> dict[str, Any]:
    """The active assistant of an active owner behind ``public_id``, or 404."""
    if not visitor_tokens.is_public_assistant_id(public_id):
        raise not_found()
    with db.connection() as conn:
        assistant = AssistantRepository(conn).get_public(public_id)
    if assistant is None:
        raise not_found()
    return assistant


def origin_allowed(assistant: dict[str, Any], origin: str | None) -> bool:
    """True when a page of ``origin`` may talk to the assistant (any origin when none are listed)."""
    allowed = assistant.get("allowed_origins") or []
    return not allowed or (origin is not None and origin.lower().rstrip("/") in allowed)


def _require_origin(assistant: dict[str, Any], origin: str | None) -> str:
    if not origin_allowed(assistant, origin):
        raise Forbidden("This assistant is not available on this website.")
    return (origin or "").lower().rstrip("/")


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Send the session token as Authorization: Bearer <session_token>.")
    return value.strip()


def _verify(token: str) -> visitor_tokens.VisitorClaims:
    try:
        return visitor_tokens.verify_visitor_token(key_ring(), token, issuer=get_settings().jwt_issuer)
    except tokens.TokenError as exc:
        logger.info("visitor token refused", extra={"reason": str(exc)})
        raise Unauthorized("The session token is missing, invalid or expired; start a new session.") from exc


def visitor(public_id: str, authorization: str | None, origin: str | None) -> visitor_tokens.VisitorClaims:
    """The verified visitor of a request to ``public_id``'s chat or feedback route.

    401 without a valid session token; 403 when the token is another assistant's or was issued
    to a page of another origin.
    """
    token = _bearer(authorization)
    if token is None:
        raise Unauthorized("A session token is required: POST …/sessions first.")
    claims = _verify(token)
    if claims.assistant != public_id:
        raise Forbidden("This session token belongs to another assistant.")
    if claims.origin and (origin or "").lower().rstrip("/") != claims.origin:
        raise Forbidden("This session token was issued to another website.")
    return claims


def start_session(public_id: str, *, origin: str | None, authorization: str | None) -> VisitorSession:
    """A new visitor session, or (with the current token as bearer) a renewed one for the same
    visitor and conversation."""
    assistant = public_assistant(public_id)
    page_origin = _require_origin(assistant, origin)
    token = _bearer(authorization)
    if token is not None:
        claims = visitor(public_id, authorization, origin)
        visitor_id, conversation_id = claims.visitor_id, claims.conversation_id
    else:
        visitor_id, conversation_id = str(uuid.uuid4()), str(uuid.uuid4())
    settings = get_settings()
    session_token = visitor_tokens.issue_visitor_token(
        key_ring(),
        visitor_id=visitor_id,
        assistant=public_id,
        conversation_id=conversation_id,
        origin=page_origin,
        issuer=settings.jwt_issuer,
        ttl_s=settings.visitor_session_ttl_s,
    )
    metrics.add_metric(name="VisitorSessions", unit=MetricUnit.Count, value=1)
    return VisitorSession(
        session_token=session_token,
        expires_in=settings.visitor_session_ttl_s,
        conversation_id=conversation_id,
        assistant=AssistantIntro(
            name=assistant["name"],
            welcome_message=assistant["welcome_message"],
            suggested_questions=list(assistant["suggested_questions"] or []),
        ),
    )


def check_visitor_limit(assistant: dict[str, Any], claims: visitor_tokens.VisitorClaims) -> None:
    """429 with ``Retry-After`` past the assistant's messages per visitor per minute (fails open without Redis)."""
    from claw_common.ratelimit.limiter import RateLimiterUnavailable, get_rate_limiter, visitor_bucket

    bucket = visitor_bucket(assistant["public_id"], claims.visitor_id, int(assistant["visitor_rate_limit_per_minute"]))
    try:
        decision = get_rate_limiter().check([bucket])
    except RateLimiterUnavailable as exc:
        metrics.add_metric(name="RateLimiterUnavailable", unit=MetricUnit.Count, value=1)
        logger.warning("rate limiter unavailable; failing open", extra={"error": str(exc)})
        return
    if not decision.allowed:
        emit_metric("RateLimited", MetricUnit.Count, 1, scope="visitor")
        raise RateLimited(
            "You are sending messages too quickly; wait a moment and try again.",
            retry_after=max(1, decision.retry_after_s),
        )


def owner_payer(assistant: dict[str, Any]) -> Caller:
    """The owner, who pays for the assistant's answers (their tier's quota applies)."""
    return Caller(
        user_id=assistant["owner_id"],
        role=assistant.get("owner_role") or "user",
        tier=assistant.get("owner_tier") or "free",
        auth_method="assistant",
    )


def answer_out(reply: answering.Reply) -> VisitorAnswer:
    return VisitorAnswer(
        message_id=reply.message_id,
        conversation_id=reply.conversation_id,
        content=reply.content,
        sources=[CitedSource(**s.public()) for s in reply.sources],
        no_answer=reply.no_answer,
        limited=reply.limited,  # type: ignore[arg-type]
    )


def chat(
    public_id: str,
    claims: visitor_tokens.VisitorClaims,
    message: str,
    deps: AnswerDeps,
    *,
    deadline_s: float | None = None,
    on_delta: OnDelta | None = None,
) -> VisitorAnswer:
    """Answer a visitor's question in their session's conversation, billed to the owner."""
    assistant = public_assistant(public_id)
    if not origin_allowed(assistant, claims.origin or None):
        # The owner restricted the assistant to other sites since the session started.
        raise Forbidden("This assistant is not available on this website.")
    check_visitor_limit(assistant, claims)
    reply = answering.ask(
        answering.Question(
            assistant=assistant,
            payer=owner_payer(assistant),
            conversation_id=claims.conversation_id,
            text=message,
            visitor_id=claims.visitor_id,
            origin=claims.origin or None,
        ),
        deps,
        deadline_s=deadline_s,
        on_delta=on_delta,
    )
    return answer_out(reply)


def give_feedback(public_id: str, claims: visitor_tokens.VisitorClaims, body: FeedbackIn) -> Feedback:
    """Rate an answer of the visitor's own conversation (404 for any other message)."""
    assistant = public_assistant(public_id)
    if not tokens.is_user_id(body.message_id):
        raise NotFound("No such answer in this conversation.")
    with db.connection() as conn:
        repo = ConversationRepository(conn)
        if not repo.answer_in_conversation(claims.conversation_id, body.message_id):
            raise NotFound("No such answer in this conversation.")
        repo.rate(claims.conversation_id, assistant["id"], body.message_id, body.rating, body.comment)
    emit_metric("AssistantFeedback", MetricUnit.Count, 1, assistant=public_id, rating=body.rating)
    return Feedback(message_id=body.message_id, rating=body.rating, comment=body.comment)
