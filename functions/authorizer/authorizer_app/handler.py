"""Auth function: register, login, refresh, logout, me, API keys and admin user management."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from authorizer_app.routes import router
from claw_common.http.app import API_PREFIX, create_app, lambda_adapter
from claw_common.observability import logger, metrics, tracer

app = create_app(
    "CLAW.AI auth",
    "Accounts, sessions (access + refresh tokens), API keys and admin user management.",
    "/openapi/auth.json",
)
app.include_router(router, prefix=API_PREFIX)
_asgi = lambda_adapter(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _asgi(event, context)  # type: ignore[arg-type]  # Powertools and Mangum type the context differently
