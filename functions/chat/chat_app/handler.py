"""Chat function: conversations, messages, answers from the LLM, usage; behind API Gateway (REST and WebSocket)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from chat_app.chat import router as chat_router
from chat_app.conversations import router as conversations_router
from chat_app.usage import router as usage_router
from chat_app.ws import handle_websocket_event, is_websocket_event
from claw_common.http.app import API_PREFIX, create_app, lambda_adapter
from claw_common.observability import logger, metrics, tracer

app = create_app(
    "CLAW.AI chat",
    "Conversations and messages, answers from GLM-4 (or the offline provider) with sources, token and cost usage.",
    "/openapi/chat.json",
)
app.include_router(conversations_router, prefix=API_PREFIX)
app.include_router(chat_router, prefix=API_PREFIX)
app.include_router(usage_router, prefix=API_PREFIX)
_asgi = lambda_adapter(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # WebSocket events (streaming answers) carry requestContext.eventType; REST proxy events go to FastAPI.
    if is_websocket_event(event):
        return handle_websocket_event(event, context)
    return _asgi(event, context)
