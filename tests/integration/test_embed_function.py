"""The embed function as the API functions call it: boto3's Lambda client, the local platform's
Invoke endpoint (``AWS_ENDPOINT_URL_LAMBDA``), the template's EmbedFunction run by the local runtime.

Its vectors are those of the model in this process, bit for bit; an event that is not a request
is refused, not a crash; a crash, a wrong answer, a missing function or a timeout is a 503
(``OfflineEmbedderUnavailable``) after a single invocation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from claw_ai.embeddings import OfflineEmbedder, OfflineEmbedderUnavailable
from claw_ai.remote_embedder import INVOKE_TIMEOUT_S, MAX_TEXTS, RemoteEmbedder, lambda_client
from tests.fault_support import running
from tests.support.embed_requests import NOT_REQUESTS
from tests.support.events import load_event

pytestmark = pytest.mark.usefixtures("platform")  # its Invoke endpoint, before lambda_client() is made

TEXTS = [
    "退货需要多少天？",
    "Returns are accepted within 30 days with the receipt.",
    "E102 错误代码表示滤网需要更换。",
    "How long does shipping to Shenzhen take?",
]


@pytest.fixture()
def embed(platform: Any) -> Any:
    """The template's EmbedFunction in the local runtime."""
    return platform.lambdas["EmbedFunction"]


def _invoke(function_name: str, event: Any) -> tuple[dict[str, Any], Any]:
    response = lambda_client().invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


def test_the_embed_functions_vectors_are_the_in_process_models(embed: Any) -> None:
    # Given the model in this process, and the embed function behind Lambda's Invoke API
    local, remote = OfflineEmbedder(), RemoteEmbedder(embed.name)
    before = embed.invocations

    # When the same texts are embedded by both
    vectors = remote.embed(TEXTS)

    # Then one invocation gave the same vectors, bit for bit, and a query's vector too
    assert embed.invocations == before + 1
    for got, want in zip(vectors, local.embed(TEXTS), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(remote.embed_query(TEXTS[0]), local.embed_query(TEXTS[0]))


def test_more_texts_than_an_invocation_takes_go_in_several(embed: Any) -> None:
    texts = [f"问题 {i}: how long do returns take?" for i in range(MAX_TEXTS + 6)]
    before = embed.invocations

    vectors = RemoteEmbedder(embed.name).embed(texts)

    assert embed.invocations == before + 2
    for got, want in zip(vectors, OfflineEmbedder().embed(texts), strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_canonical_event_is_answered_with_the_models_vectors(embed: Any) -> None:
    response, body = _invoke(embed.name, load_event("lambda_embed_texts.json"))

    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert (body["model"], body["dim"], len(body["vectors"])) == ("use-multilingual-v3", 512, 2)


@pytest.mark.parametrize("event", [*NOT_REQUESTS, "a question", None])
def test_an_event_that_is_not_a_request_is_refused_not_a_crash(embed: Any, event: Any) -> None:
    response, body = _invoke(embed.name, event)

    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert body["error"] == "invalid-request" and body["detail"]


def test_the_client_tries_once_within_short_deadlines() -> None:
    config = lambda_client().meta.config

    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.read_timeout == INVOKE_TIMEOUT_S and config.connect_timeout <= 2


def _crash(event: Any, context: Any) -> Any:
    raise MemoryError("Runtime exited: out of memory")


WRONG_ANSWERS = {
    "a crash": _crash,
    "another model": lambda event, context: {"model": "another", "dim": 512, "vectors": ["A" * 2732] * 4},
    "fewer vectors": lambda event, context: {"model": "use-multilingual-v3", "dim": 512, "vectors": []},
    "a short vector": lambda event, context: {"model": "use-multilingual-v3", "dim": 512, "vectors": ["AAAA"] * 4},
    "not base64": lambda event, context: {"model": "use-multilingual-v3", "dim": 512, "vectors": ["é"] * 4},
    "a refusal": lambda event, context: {"error": "invalid-request", "detail": "texts: too long"},
    "no JSON object": lambda event, context: "vectors",
}


@pytest.mark.parametrize("answer", WRONG_ANSWERS.values(), ids=WRONG_ANSWERS.keys())
def test_a_failing_or_wrong_embed_function_is_a_503_after_one_invocation(
    embed: Any, answer: Callable[[Any, Any], Any]
) -> None:
    before = embed.invocations
    with running(embed, answer), pytest.raises(OfflineEmbedderUnavailable) as raised:
        RemoteEmbedder(embed.name).embed(TEXTS)

    assert raised.value.to_problem()["status"] == 503
    assert embed.invocations == before + 1


def test_a_function_that_is_not_deployed_is_a_503() -> None:
    with pytest.raises(OfflineEmbedderUnavailable):
        RemoteEmbedder("claw-ai-local-not-deployed").embed_query("退货需要多少天？")


def test_an_embed_function_that_does_not_answer_in_time_is_a_503_not_a_hang(embed: Any) -> None:
    import boto3
    from botocore.config import Config

    # Given an embed function that hangs, and a client with lambda_client's settings but a 1 s deadline
    release = threading.Event()
    client = boto3.client(
        "lambda",
        config=Config(connect_timeout=2, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1}),
    )
    before = embed.invocations
    try:
        with running(embed, lambda event, context: release.wait(30)):
            # When it is asked, Then the caller gives up with a 503, having invoked it once
            with pytest.raises(OfflineEmbedderUnavailable):
                RemoteEmbedder(embed.name, client).embed(TEXTS)
            assert embed.invocations == before + 1
    finally:
        release.set()
