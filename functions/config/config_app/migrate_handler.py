"""CloudFormation custom resource: apply the layer's SQL migrations on every deploy.

Create and Update apply pending migrations (idempotent, under an advisory lock), then drop the
vector indexes of deleted knowledge bases that a deletion could not drop at the time
(``vector_index.sweep_orphans``; a failure there is logged, not a failed deploy). Delete does
nothing, because a stack deletion must never drop customer data.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from claw_common.observability import logger


def _respond(event: dict[str, Any], context: LambdaContext, status: str, reason: str, data: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": event.get("PhysicalResourceId") or "claw-ai-database-migrations",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's presigned https response URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def _sweep_vector_indexes() -> None:
    import psycopg

    from claw_ai.retrieval import vector_index

    try:
        dropped = vector_index.sweep_orphans()
    except psycopg.Error as exc:  # they match no row; the next deploy tries again
        logger.warning("orphan vector indexes not swept", extra={"error": type(exc).__name__})
        return
    if dropped:
        logger.info("orphan vector indexes dropped", extra={"indexes": dropped})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from claw_ai.schema import migrate

    data: dict[str, Any] = {}
    try:
        if event.get("RequestType") in ("Create", "Update"):
            applied = migrate()
            data["Applied"] = ",".join(applied) or "none"
            logger.info("migrations applied", extra={"applied": applied})
            _sweep_vector_indexes()
        status, reason = "SUCCESS", "ok"
    except Exception as exc:  # noqa: BLE001 - CloudFormation must hear of any failure, or it waits for an hour
        logger.exception("migrations failed")
        status, reason = (
            "FAILED",
            f"migrations failed: {type(exc).__name__}; see CloudWatch log {context.log_stream_name}",
        )
    if event.get("ResponseURL"):
        _respond(event, context, status, reason, data)
    return {"Status": status, "Data": data}
