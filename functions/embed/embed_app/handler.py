"""Embed function: the offline model's vectors for the functions that do not carry it.

The API functions (chat, chat-stream, knowledge, assistants) stay within their size budget
without the offline embedder layer (numpy + the USE model, ~79 MB); where the deployment embeds
offline they invoke this function synchronously for question and sentence vectors
(``claw_ai.remote_embedder.RemoteEmbedder``, which holds the contract). Ingest carries the layer
and embeds in-process: both run ``OfflineEmbedder``, so the vectors are the same.

The event is an ``EmbedRequest``; the answer an ``EmbedResult``, or an ``EmbedRefusal`` for an
event that is not a request (a caller's mistake, answered rather than raised: retrying it would
not help, and it must not count as a function error). The model is loaded at init, once per
execution environment, while a cold start has its full CPU.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from claw_ai.embeddings import OfflineEmbedder
from claw_ai.remote_embedder import EmbedRefusal, EmbedRequest, EmbedResult
from claw_common.observability import MetricUnit, logger, metrics, tracer

embedder = OfflineEmbedder()
embedder.load()


@logger.inject_lambda_context(correlation_id_path="correlation_id", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        request = EmbedRequest.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors())
        logger.warning("refused an event that is not an embed request", extra={"problems": problems})
        return EmbedRefusal(detail=problems).model_dump()
    vectors = embedder.embed(request.texts)
    metrics.add_metric(name="TextsEmbedded", unit=MetricUnit.Count, value=len(vectors))
    return EmbedResult.of(embedder, vectors).model_dump()
