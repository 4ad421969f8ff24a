"""Config function: runtime configuration API and the health check, behind API Gateway."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from claw_common.http.app import API_PREFIX, create_app, lambda_adapter
from claw_common.observability import logger, metrics, tracer
from claw_common.ratelimit.routes import router as ratelimit_router
from config_app.docs import router as docs_router
from config_app.routes import router

app = create_app("CLAW.AI config", "Runtime configuration with history, rollback and audit.", "/openapi/config.json")
app.include_router(router, prefix=API_PREFIX)
app.include_router(ratelimit_router, prefix=API_PREFIX)
app.include_router(docs_router, prefix=API_PREFIX)
_asgi = lambda_adapter(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _asgi(event, context)
