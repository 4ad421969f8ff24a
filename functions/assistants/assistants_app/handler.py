"""Assistants function: owners' assistants and their insights, visitors' public routes (REST and
WebSocket ``visitor_chat``), OpenAI-compatible chat completions."""

from __future__ import annotations

from assistants_app.cors import PublicCorsMiddleware, TtlOrigins
from assistants_app.routes_openai import router as openai_router
from assistants_app.routes_owner import router as owner_router
from assistants_app.routes_public import router as public_router
from assistants_app.ws import handle_websocket_event
from claw_common.http.app import create_app, mount
from claw_common.http.entry import api_entry


def _allowed_origins(public_id: str) -> list[str] | None:
    from assistants_app.repository import AssistantRepository
    from claw_common.auth.visitor_tokens import is_public_assistant_id
    from claw_common.data import db

    if not is_public_assistant_id(public_id):
        return None
    with db.connection() as conn:
        row = AssistantRepository(conn).get_public(public_id)
    return None if row is None else list(row["allowed_origins"] or [])


app = create_app(
    "CLAW.AI assistants",
    "Assistants published by their owners: visitor sessions and chat (REST, WebSocket), feedback, the owner's "
    "conversations, stats and exports, and OpenAI-compatible chat completions.",
    "/openapi/assistants.json",
)
mount(app, owner_router, public_router, openai_router)
# Outermost: CORS headers reach every public response, the rate limiter's 429 included.
app.add_middleware(PublicCorsMiddleware, origins_of=TtlOrigins(_allowed_origins))
lambda_handler = api_entry(app, websocket=handle_websocket_event)
