"""OpenAI-compatible routes: ``/api/v1/openai/chat/completions`` and ``/api/v1/openai/models``
(behind the authorizer: the owner's API key or access token as ``Authorization: Bearer``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from assistants_app import openai_logic
from assistants_app.deps import answer_deps, model_deadline_s
from assistants_app.models import ChatCompletionRequest
from claw_common.http.app import api_router
from claw_common.http.security import CallerDep

router = api_router("/openai", tags=["openai"])


@router.get("/models", response_model=openai_logic.ModelList, summary="The caller's assistants as models")
def models(caller: CallerDep) -> Any:
    return openai_logic.list_models(caller)


@router.post(
    "/chat/completions",
    response_model=openai_logic.ChatCompletion,
    summary="Chat completion by an assistant (model = its public_id); stream=true → buffered SSE",
    responses={200: {"content": {"text/event-stream": {}}}},
)
def chat_completions(body: ChatCompletionRequest, caller: CallerDep, request: Request) -> Any:
    completion = openai_logic.complete(caller, body, answer_deps(), model_deadline_s(request))
    if body.stream:
        return Response(
            content=openai_logic.as_event_stream(completion).encode("utf-8"),
            media_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )
    return completion
