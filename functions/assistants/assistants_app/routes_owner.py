"""The owner's routes: ``/api/v1/assistants…`` (behind the authorizer; the caller is the owner)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Query, Request, Response

from assistants_app import insights_logic, owner_logic
from assistants_app.models import (
    Assistant,
    AssistantCreate,
    AssistantPage,
    AssistantStats,
    AssistantUpdate,
    ConversationPage,
    MessageList,
)
from claw_common.http.app import API_PREFIX, api_router
from claw_common.http.security import CallerDep

router = api_router("/assistants", tags=["assistants"])

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Cursor = Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page.")]


def api_base(request: Request) -> str:
    """The API's public base URL (``…/api/v1``) as the client reached it.

    On API Gateway's own domain the stage is part of the path; the local gateway and custom
    domains have none.
    """
    event = request.scope.get("aws.event") or {}
    context = event.get("requestContext") or {}
    host = request.headers.get("host") or context.get("domainName") or "localhost"
    # API Gateway is HTTPS only (and sets X-Forwarded-Proto); only the local gateway on loopback is plain HTTP.
    loopback = str(host).split(":")[0] in ("127.0.0.1", "localhost") or str(host).startswith("[::1]")
    scheme = request.headers.get("x-forwarded-proto") or ("http" if loopback else "https")
    stage = f"/{context['stage']}" if str(host).endswith(".amazonaws.com") and context.get("stage") else ""
    return f"{scheme}://{host}{stage}{API_PREFIX}"


@router.post("", status_code=201, response_model=Assistant, summary="Publish an assistant")
def create_assistant(body: AssistantCreate, caller: CallerDep, request: Request) -> Assistant:
    return owner_logic.create_assistant(caller, body, api_base(request))


@router.get("", response_model=AssistantPage, summary="The caller's assistants, newest first")
def list_assistants(caller: CallerDep, request: Request, limit: Limit = 20, cursor: Cursor = None) -> AssistantPage:
    return owner_logic.list_assistants(caller, limit=limit, cursor=cursor, api_base=api_base(request))


@router.get("/{assistant_id}", response_model=Assistant, summary="One assistant")
def get_assistant(assistant_id: str, caller: CallerDep, request: Request) -> Assistant:
    return owner_logic.get_assistant(caller, assistant_id, api_base(request))


@router.put("/{assistant_id}", response_model=Assistant, summary="Change an assistant (fields sent only)")
def update_assistant(assistant_id: str, body: AssistantUpdate, caller: CallerDep, request: Request) -> Assistant:
    return owner_logic.update_assistant(caller, assistant_id, body, api_base(request))


@router.delete("/{assistant_id}", status_code=204, summary="Delete an assistant and its conversations")
def delete_assistant(assistant_id: str, caller: CallerDep) -> Response:
    owner_logic.delete_assistant(caller, assistant_id)
    return Response(status_code=204)


@router.get(
    "/{assistant_id}/conversations", response_model=ConversationPage, summary="Visitors' conversations, filtered"
)
def list_conversations(
    assistant_id: str,
    caller: CallerDep,
    date_from: Annotated[date | None, Query(description="Started on or after this UTC day.")] = None,
    date_to: Annotated[date | None, Query(description="Started on or before this UTC day.")] = None,
    no_answer: Annotated[bool, Query(description="Only conversations with an unanswered question.")] = False,
    thumbs_down: Annotated[bool, Query(description="Only conversations with a thumbs-down.")] = False,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ConversationPage:
    return insights_logic.list_conversations(
        caller,
        assistant_id,
        date_from=date_from,
        date_to=date_to,
        no_answer=no_answer,
        thumbs_down=thumbs_down,
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/{assistant_id}/conversations/{conversation_id}/messages",
    response_model=MessageList,
    summary="A conversation's messages with sources and feedback",
)
def conversation_messages(assistant_id: str, conversation_id: str, caller: CallerDep) -> MessageList:
    return insights_logic.conversation_messages(caller, assistant_id, conversation_id)


@router.get("/{assistant_id}/stats", response_model=AssistantStats, summary="Per-day statistics")
def stats(assistant_id: str, caller: CallerDep, days: Annotated[int, Query(ge=1, le=366)] = 30) -> AssistantStats:
    return insights_logic.stats(caller, assistant_id, days)


@router.get(
    "/{assistant_id}/export",
    summary="Every message of the last N days as JSON Lines or CSV",
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
def export(
    assistant_id: str,
    caller: CallerDep,
    format: Annotated[Literal["jsonl", "csv"], Query(description="jsonl or csv.")] = "jsonl",
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Response:
    text, truncated = insights_logic.export(caller, assistant_id, fmt=format, days=days)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    headers = {
        "Content-Disposition": f'attachment; filename="assistant-{assistant_id}.{format}"',
        "X-Export-Truncated": "true" if truncated else "false",
    }
    return Response(content=text.encode("utf-8"), media_type=f"{media}; charset=utf-8", headers=headers)
