"""Assistants function: owners' assistants and their insights, visitors' public routes (REST and
WebSocket ``visitor_chat``), OpenAI-compatible chat completions."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from assistants_app.cors import PublicCorsMiddleware, TtlOrigins
from assistants_app.routes_openai import router as openai_router
from assistants_app.routes_owner import router as owner_router
from assistants_app.routes_public import router as public_router
from assistants_app.ws import handle_websocket_event, is_websocket_event
from claw_common.http.app import API_PREFIX, create_app, lambda_adapter
from claw_common.observability import logger, metrics, tracer


def _allowed_origins(public_id: str) -> list[str] | None:
    from assistants_app.repository import AssistantRepository
    from claw_common.auth.tokens import is_public_assistant_id
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
app.include_router(owner_router, prefix=API_PREFIX)
app.include_router(public_router, prefix=API_PREFIX)
app.include_router(openai_router, prefix=API_PREFIX)
# Outermost: CORS headers reach every public response, the rate limiter's 429 included.
app.add_middleware(PublicCorsMiddleware, origins_of=TtlOrigins(_allowed_origins))
_asgi = lambda_adapter(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # WebSocket events (visitor_chat frames) carry requestContext.eventType; REST proxy events go to FastAPI.
    if is_websocket_event(event):
        return handle_websocket_event(event, context)
    return _asgi(event, context)
