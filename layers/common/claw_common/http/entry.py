"""The Lambda entry point of every HTTP function: Powertools' decorator stack around Mangum.

Order as in the handler cookbook: the logger injects the Lambda context and the correlation
id (API Gateway's request id), metrics flush after the invocation (with a cold-start metric),
the tracer wraps the handler without recording its response. Mangum is built once, at import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from claw_common.http.app import lambda_adapter
from claw_common.observability import logger, metrics, tracer

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def api_entry(app: Any, *, websocket: Handler | None = None) -> Handler:
    """The ``lambda_handler`` of a FastAPI ``app``; WebSocket events go to ``websocket`` when given.

    WebSocket events are told apart by ``requestContext.eventType`` (REST proxy events have none).
    """
    asgi = lambda_adapter(app)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @metrics.log_metrics(capture_cold_start_metric=True)
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if websocket is not None and (event.get("requestContext") or {}).get("eventType"):
            return websocket(event, context)
        return asgi(event, context)  # type: ignore[no-any-return]

    return lambda_handler
