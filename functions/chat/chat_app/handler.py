"""Chat function: conversations, messages, answers from the LLM, usage; behind API Gateway (REST and WebSocket)."""

from __future__ import annotations

from chat_app.chat import router as chat_router
from chat_app.conversations import router as conversations_router
from chat_app.usage import router as usage_router
from chat_app.ws import handle_websocket_event
from claw_common.http.app import create_app, mount
from claw_common.http.entry import api_entry

app = create_app(
    "CLAW.AI chat",
    "Conversations and messages, answers from GLM-4 (or the offline provider) with sources, token and cost usage.",
    "/openapi/chat.json",
)
mount(app, conversations_router, chat_router, usage_router)
lambda_handler = api_entry(app, websocket=handle_websocket_event)
