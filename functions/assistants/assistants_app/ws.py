"""Visitors' streamed answers on the WebSocket API (the ``visitor_chat`` action).

A visitor connects with ``?token=<session token>``: the authorizer verifies it and passes its
claims (no ``user_id``) as the connection's context; the chat function accepts the
``$connect`` without recording a user. Each ``{"action": "visitor_chat", "message": …}`` frame
is answered here for the token's assistant with the same frames as account holders' chat:
``delta``… then ``sources`` then ``done`` (``message_id``, ``conversation_id``, ``no_answer``,
``limited``), or one ``error`` frame with the problem+json fields.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistants_app import visitor_logic
from assistants_app.deps import answer_deps, deadline_from
from assistants_app.models import MAX_QUESTION_CHARS
from claw_common.auth.tokens import is_user_id
from claw_common.auth.visitor_tokens import VisitorClaims, is_public_assistant_id
from claw_common.errors import ClawError, Unauthorized, ValidationFailed
from claw_common.http.ws_push import ConnectionPusher, FrameStream, error_frame, management_client, management_endpoint
from claw_common.observability import MetricUnit, logger, metrics

ACTION = "visitor_chat"
CLOSE_RESERVE_S = 0.5


class VisitorChatFrame(BaseModel):
    """The frame a visitor's widget sends."""

    model_config = ConfigDict(extra="ignore")

    action: Literal["visitor_chat"]
    message: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)


def visitor_of(event: dict[str, Any]) -> VisitorClaims:
    """The visitor the authorizer accepted at ``$connect``; 401 for any other connection or an expired session."""
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    if context.get("auth_method") != "visitor" or context.get("user_id"):
        raise Unauthorized("visitor_chat needs a connection opened with a visitor session token.")
    claims = VisitorClaims(
        visitor_id=str(context.get("visitor_id") or ""),
        assistant=str(context.get("assistant") or ""),
        conversation_id=str(context.get("conversation_id") or ""),
        origin=str(context.get("origin") or ""),
        iat=0,
        exp=int(str(context.get("expires_at") or "0")),
    )
    if not (is_user_id(claims.visitor_id) and is_user_id(claims.conversation_id)):
        raise Unauthorized("The connection's session is not valid; reconnect with a new session token.")
    if not is_public_assistant_id(claims.assistant):
        raise Unauthorized("The connection's session is not valid; reconnect with a new session token.")
    if claims.exp < time.time():
        raise Unauthorized("The session expired; renew it and reconnect.")
    return claims


def parse_frame(body: Any) -> VisitorChatFrame:
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else None
        return VisitorChatFrame.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise ValidationFailed(
            'Send {"action": "visitor_chat", "message": "…"} (1-4000 characters).',
            errors=[{"loc": ["body"], "msg": "invalid visitor_chat frame", "type": "value_error"}],
        ) from exc


def handle_websocket_event(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one ``visitor_chat`` frame (the only WebSocket route this function serves)."""
    request_context = event.get("requestContext") or {}
    if request_context.get("eventType") != "MESSAGE":
        return {"statusCode": 200}
    pusher = ConnectionPusher(
        management_client(management_endpoint(request_context)), str(request_context.get("connectionId"))
    )
    try:
        frame = parse_frame(event.get("body"))
        claims = visitor_of(event)
    except ClawError as exc:
        pusher.post(error_frame(exc))
        return {"statusCode": 200}
    logger.append_keys(assistant=claims.assistant, visitor_id=claims.visitor_id)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    close_deadline_s = max(1.0, remaining() / 1000 - CLOSE_RESERVE_S) if remaining else 25.0
    frames = FrameStream(pusher)
    try:
        answer = visitor_logic.chat(
            claims.assistant,
            claims,
            frame.message,
            answer_deps(),
            deadline_s=deadline_from(context),
            on_delta=frames.delta,
        )
    except ClawError as exc:
        frames.frame(error_frame(exc))
    except Exception:  # noqa: BLE001 - logged here; the visitor gets a 500 error frame, never a trace
        logger.exception("streamed visitor answer failed")
        frames.frame(error_frame(ClawError("An unexpected error occurred.")))
    else:
        done = answer.model_dump(mode="json")
        frames.frame({"type": "sources", "sources": done.pop("sources")})
        done.pop("content")
        frames.frame({"type": "done", **done})
        metrics.add_metric(name="StreamedAnswers", unit=MetricUnit.Count, value=1)
    finally:
        frames.close(close_deadline_s)
    return {"statusCode": 200}
