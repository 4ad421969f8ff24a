"""The embed function's contract: what a request may hold, how vectors travel, how texts are batched."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from claw_ai.embeddings import OfflineEmbedder
from claw_ai.remote_embedder import MAX_CHARS, MAX_TEXTS, EmbedRequest, EmbedResult, RemoteEmbedder, _batches
from tests.support.embed_requests import NOT_REQUESTS
from tests.support.events import load_event


def test_the_canonical_event_is_a_request() -> None:
    request = EmbedRequest.model_validate(load_event("lambda_embed_texts.json"))

    assert len(request.texts) == 2 and request.correlation_id


@pytest.mark.parametrize("event", NOT_REQUESTS)
def test_a_request_is_bounded_and_holds_texts_only(event: object) -> None:
    with pytest.raises(ValidationError):
        EmbedRequest.model_validate(event)


def test_vectors_travel_as_float32_bytes_unchanged() -> None:
    embedder = OfflineEmbedder()
    vectors = embedder.embed(["退货需要多少天？", "Returns are accepted within 30 days."])

    result = EmbedResult.model_validate_json(EmbedResult.of(embedder, vectors).model_dump_json())

    assert (result.model, result.dim) == ("use-multilingual-v3", 512)
    for received, sent in zip(result.decoded(), vectors, strict=True):
        np.testing.assert_array_equal(received, sent)


def test_a_vector_of_another_size_is_refused() -> None:
    result = EmbedResult(model="use-multilingual-v3", dim=512, vectors=["AAAAAA=="])

    with pytest.raises(ValueError, match="bytes"):
        result.decoded()


def test_texts_go_in_order_in_batches_of_bounded_count_and_size() -> None:
    many = [f"text {i}" for i in range(MAX_TEXTS * 2 + 1)]
    assert [len(b) for b in _batches(many)] == [MAX_TEXTS, MAX_TEXTS, 1]
    assert [t for b in _batches(many) for t in b] == many

    long = ["x" * (MAX_CHARS // 2)] * 3
    assert [len(b) for b in _batches(long)] == [2, 1]


def test_the_remote_embedder_is_the_offline_model_by_name_and_size() -> None:
    remote = RemoteEmbedder("claw-ai-dev-embed")

    assert (remote.name, remote.dim) == (OfflineEmbedder.name, OfflineEmbedder.dim)
