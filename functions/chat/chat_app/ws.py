"""The chat function's WebSocket API: streamed answers (see docs/streaming.md).

API Gateway invokes the function with WebSocket events (``requestContext.eventType``):

* ``$connect`` (CONNECT), after the REQUEST authorizer accepted ``?token=`` — the connection
  is recorded with its user (``ws_connections``); 200 lets the handshake complete.
* ``chat`` (MESSAGE) ``{"action": "chat", "conversation_id", "message", "knowledge_base_id"?,
  "top_k"?}`` — after the same rate limits, the same :func:`chat_app.chat_logic.chat` as
  ``POST …/chat``, streamed: ``delta``
  frames as the text arrives, then ``sources``, then ``done`` with the stored message id and
  usage; any failure as one ``error`` frame (status, title, detail: the problem+json fields).
* ``$default`` (MESSAGE with another or no action) — an ``error`` frame, 422.
* ``$disconnect`` (DISCONNECT) — the connection's row is deleted.

Frames go back through the management API (:mod:`claw_common.http.ws_push`). A client that leaves
mid-answer only stops the frames: the answer is still generated, stored and billed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, ValidationError

from chat_app import chat_logic
from chat_app.chat import MIN_DEADLINE_S, RESPONSE_RESERVE_S
from chat_app.models import ChatRequest
from chat_app.ws_connections import ConnectionRepository
from claw_ai.answering.pipeline import DEFAULT_DEADLINE_S, AnswerDeps
from claw_common.auth.caller import Caller, caller_from_event, verified_caller
from claw_common.data import db
from claw_common.errors import ClawError, Forbidden, Unauthorized, ValidationFailed
from claw_common.http.client_ip import UNKNOWN_IP, event_source_ip
from claw_common.http.hygiene import control_character_errors, refuse_control_characters
from claw_common.http.ws_push import (
    ConnectionPusher,
    FrameStream,
    error_frame,
    management_client,
    management_endpoint,
)
from claw_common.observability import MetricUnit, log_unhandled, logger, metrics

CLOSE_RESERVE_S = 0.5
"""Time kept back at the end of an invocation: the last frames must be posted before it ends."""


class ChatAction(ChatRequest):
    """The ``chat`` frame a client sends."""

    action: Literal["chat"] = Field(description='Always "chat" (the route selection key).')
    conversation_id: str = Field(min_length=1, max_length=64, description="The caller's conversation.")


def handle_websocket_event(event: dict[str, Any], context: Any, *, deps: AnswerDeps | None = None) -> dict[str, Any]:
    """Answer one WebSocket event; the return value is the integration response API Gateway expects."""
    request_context = event.get("requestContext") or {}
    logger.append_keys(
        connection_id=request_context.get("connectionId"),
        route_key=request_context.get("routeKey"),
        user_id=(request_context.get("authorizer") or {}).get("user_id"),
    )
    try:
        return _dispatch(event, context, deps)
    except Exception as exc:  # noqa: BLE001 - logged with its trace here; the client only sees the status
        # Never a stack trace to the client; API Gateway refuses a $connect that does not answer 200.
        log_unhandled("websocket event failed", exc)
        return {"statusCode": 500}


def _dispatch(event: dict[str, Any], context: Any, deps: AnswerDeps | None) -> dict[str, Any]:
    request_context = event.get("requestContext") or {}
    event_type = request_context.get("eventType")
    if event_type == "CONNECT":
        return on_connect(event)
    if event_type == "DISCONNECT":
        return on_disconnect(event)
    if event_type == "MESSAGE" and request_context.get("routeKey") == "chat":
        return on_chat(event, context, deps=deps)
    if event_type == "MESSAGE":
        return on_unknown_action(event)
    logger.warning("unexpected websocket event type", extra={"event_type": str(event_type)[:32]})
    return {"statusCode": 400}


# --------------------------------------------------------------------------- connect / disconnect


def on_connect(event: dict[str, Any]) -> dict[str, Any]:
    """Record the connection with the user the authorizer accepted; any other status refuses the handshake."""
    connection_id = event["requestContext"]["connectionId"]
    caller = caller_from_event(event)
    if caller is None and (event["requestContext"].get("authorizer") or {}).get("auth_method") == "visitor":
        # A visitor of an assistant: the connection serves only the assistants function's
        # visitor_chat action, which checks the token's assistant on every frame; this
        # function's own actions find no caller and refuse.
        metrics.add_metric(name="WebSocketConnects", unit=MetricUnit.Count, value=1)
        return {"statusCode": 200}
    if caller is None:
        # Only reachable when the route is deployed without its authorizer: refuse rather than guess.
        logger.warning("websocket connect without an authorizer context")
        return {"statusCode": 401}
    try:
        with db.connection() as conn:
            registered = ConnectionRepository(conn).register(connection_id, caller.user_id)
    except ClawError as exc:
        logger.warning("websocket connection not recorded", extra={"error": exc.slug})
        return {"statusCode": exc.status}
    if not registered:
        logger.warning("websocket connection id already belongs to another user")
        return {"statusCode": 403}
    metrics.add_metric(name="WebSocketConnects", unit=MetricUnit.Count, value=1)
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any]) -> dict[str, Any]:
    """Forget the connection (API Gateway ignores the response; it is closed already)."""
    try:
        with db.connection() as conn:
            ConnectionRepository(conn).remove(event["requestContext"]["connectionId"])
    except ClawError as exc:
        # A leftover row is harmless: it can only be used by its own user and is swept after 2 hours.
        logger.warning("websocket connection not removed", extra={"error": exc.slug})
    return {"statusCode": 200}


# --------------------------------------------------------------------------- messages


def _pusher(event: dict[str, Any]) -> ConnectionPusher:
    request_context = event["requestContext"]
    return ConnectionPusher(management_client(management_endpoint(request_context)), request_context["connectionId"])


def _parse_body(body: Any) -> dict[str, Any]:
    try:
        data = json.loads(body) if isinstance(body, str | bytes) else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValidationFailed(
            'The frame is not a JSON object; send {"action": "chat", "conversation_id": …, "message": …}.',
            errors=[{"loc": ["body"], "msg": "not a JSON object", "type": "json_invalid"}],
        )
    return data


def parse_chat_action(body: Any) -> ChatAction:
    """The ``chat`` frame, or ``ValidationFailed`` (422) naming the bad fields (never echoing their values)."""
    data = _parse_body(body)
    refuse_control_characters(control_character_errors(data, ["body"]))
    try:
        return ChatAction.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))[:300], "type": err["type"]}
            for err in exc.errors(include_input=False, include_url=False)
        ]
        summary = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in errors[:3])
        raise ValidationFailed(f"The chat frame is not valid ({summary}).", errors=errors) from None


def _verified_owner(event: dict[str, Any]) -> Caller:
    """The caller of this connection, still active, and the connection recorded as theirs."""
    caller = caller_from_event(event)
    if caller is None:
        raise Unauthorized("This connection was not authenticated; reconnect with ?token=.")
    with db.connection() as conn:
        owned = ConnectionRepository(conn).touch(event["requestContext"]["connectionId"], caller.user_id)
    if not owned:
        raise Forbidden("This connection is not registered to you; reconnect.")
    # The authorizer's verdict is as old as the connection: re-check the account and API key now.
    return verified_caller(caller)


def _check_rate_limit(caller: Caller, event: dict[str, Any]) -> None:
    """The REST chat route's limits (global, user by tier, IP, the ``messages`` group) for a chat frame.

    A streamed question is a ``POST …/chat`` in all but transport, so it draws from the same
    buckets; like that route, it passes when Redis is down (fail open).
    """
    from claw_common.ratelimit.admission import admit
    from claw_common.ratelimit.policy import ROUTE_GROUPS

    admit(caller, event_source_ip(event) or UNKNOWN_IP, ROUTE_GROUPS["messages"], path="websocket chat")


def _deadline_s(context: Any) -> tuple[float, float]:
    """(seconds the model may take, seconds left to post the last frames).

    No 29 s cap here: a WebSocket message is not an API Gateway request waiting for its
    response, so the streaming function's own timeout (ChatStreamFunction in the template)
    bounds the answer. The REST path keeps its deadline from API Gateway's 29 s.
    """
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return DEFAULT_DEADLINE_S, DEFAULT_DEADLINE_S
    left = remaining_ms() / 1000
    model = max(MIN_DEADLINE_S, left - RESPONSE_RESERVE_S)
    return model, max(1.0, left - CLOSE_RESERVE_S)


def on_chat(event: dict[str, Any], context: Any, *, deps: AnswerDeps | None = None) -> dict[str, Any]:
    """Stream the answer to a ``chat`` frame; what is stored and billed is exactly what ``POST …/chat`` stores."""
    pusher = _pusher(event)
    try:
        action = parse_chat_action(event.get("body"))
        caller = _verified_owner(event)
        _check_rate_limit(caller, event)
    except ClawError as exc:
        pusher.post(error_frame(exc))
        return {"statusCode": 200}

    model_deadline_s, close_deadline_s = _deadline_s(context)
    frames = FrameStream(pusher)
    try:
        result = chat_logic.chat(
            caller, action.conversation_id, action, deadline_s=model_deadline_s, deps=deps, on_delta=frames.delta
        )
    except ClawError as exc:
        # Text already streamed belongs to no stored answer: the error frame tells the client to drop it.
        frames.frame(error_frame(exc, conversation_id=action.conversation_id))
    except Exception as exc:  # noqa: BLE001 - logged here; the client gets a 500 error frame, never a trace
        log_unhandled("streamed chat failed", exc)
        frames.frame(error_frame(ClawError("An unexpected error occurred."), conversation_id=action.conversation_id))
    else:
        done = result.model_dump(mode="json")
        frames.frame({"type": "sources", "sources": done.pop("sources")})
        done.pop("content")
        frames.frame({"type": "done", **done})
        metrics.add_metric(name="StreamedAnswers", unit=MetricUnit.Count, value=1)
    finally:
        frames.close(close_deadline_s)

    if pusher.gone:
        metrics.add_metric(name="StreamClientGone", unit=MetricUnit.Count, value=1)
        _forget_gone(event)
    return {"statusCode": 200}


def _forget_gone(event: dict[str, Any]) -> None:
    # $disconnect normally removes the row; a client found gone is removed now as well.
    try:
        with db.connection() as conn:
            ConnectionRepository(conn).remove(event["requestContext"]["connectionId"])
    except ClawError as exc:
        logger.warning("gone websocket connection not removed", extra={"error": exc.slug})


def on_unknown_action(event: dict[str, Any]) -> dict[str, Any]:
    """``$default``: anything but a ``chat`` frame is answered with a 422 ``error`` frame."""
    pusher = _pusher(event)
    try:
        _parse_body(event.get("body"))
        exc: ClawError = ValidationFailed(
            'Unknown action; the supported action is "chat".',
            errors=[{"loc": ["body", "action"], "msg": "unknown action", "type": "literal_error"}],
        )
    except ValidationFailed as invalid:
        exc = invalid
    pusher.post(error_frame(exc))
    return {"statusCode": 200}
