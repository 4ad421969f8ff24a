"""ZhipuProvider: the real zhipuai SDK against the local fake of Zhipu's HTTP API."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from claw_ai.messages import ChatMessage, Completion, Passage, StreamDelta
from claw_ai.tokens import count_messages, count_tokens
from claw_ai.zhipu.chat import ZhipuProvider
from claw_common.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from tests.fakes.zhipu_fake import ZhipuFake

CHAT = "/chat/completions"
MESSAGES = [ChatMessage("system", "You are CLAW."), ChatMessage("user", "我的订单什么时候发货？ When will it ship?")]


@pytest.fixture
def zhipu() -> Iterator[ZhipuFake]:
    with ZhipuFake() as fake:
        yield fake


def make_provider(fake: ZhipuFake, **overrides) -> ZhipuProvider:
    options = {
        "base_url": fake.base_url,
        "timeout_s": 0.5,
        "max_retries": 2,
        "deadline_s": 5.0,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    options.update(overrides)
    api_key = options.pop("api_key", fake.api_key)
    return ZhipuProvider(api_key, **options)


def expected_usage(fake: ZhipuFake) -> tuple[int, int]:
    body = fake.requests_to(CHAT)[-1].body
    prompt = sum(ZhipuFake.tokens_of(m["content"]) for m in body["messages"])
    return prompt, ZhipuFake.tokens_of(ZhipuFake.reply_for(body))


def test_completion_returns_the_model_answer_and_provider_usage(zhipu: ZhipuFake) -> None:
    # When a completion is asked for
    completion = make_provider(zhipu).complete(MESSAGES, model="glm-4-flash", temperature=0.3, max_tokens=500)

    # Then the request carried our messages and options, once
    [request] = zhipu.requests
    assert request.body["model"] == "glm-4-flash"
    assert request.body["messages"] == [m.to_dict() for m in MESSAGES]
    assert request.body["temperature"] == 0.3
    assert request.body["max_tokens"] == 500
    assert request.headers["authorization"] == f"Bearer {zhipu.api_key}"
    # And the answer and usage are the provider's
    assert completion.content == ZhipuFake.reply_for(request.body)
    assert completion.model == "glm-4-flash"
    assert completion.finish_reason == "stop"
    prompt, generated = expected_usage(zhipu)
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (prompt, generated)
    assert completion.usage.total_tokens == prompt + generated
    assert completion.latency_ms >= 0


def test_context_is_not_sent_separately(zhipu: ZhipuFake) -> None:
    passage = Passage("Shipping", "SECRET-MARKER ships in 48h", "d#1")
    make_provider(zhipu).complete(MESSAGES, model="glm-4", context=[passage])
    assert "SECRET-MARKER" not in str(zhipu.requests[0].body)


def test_stream_deltas_concatenate_to_the_final_content_with_usage(zhipu: ZhipuFake) -> None:
    events = list(make_provider(zhipu).stream(MESSAGES, model="glm-4-air"))

    *deltas, final = events
    assert isinstance(final, Completion)
    assert len(deltas) > 2 and all(isinstance(d, StreamDelta) for d in deltas)
    assert "".join(d.text for d in deltas) == final.content
    assert final.content == ZhipuFake.reply_for(zhipu.requests[0].body)
    assert zhipu.requests[0].body["stream"] is True
    assert final.model == "glm-4-air"
    assert final.finish_reason == "stop"
    prompt, generated = expected_usage(zhipu)
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (
        prompt,
        generated,
        prompt + generated,
    )


def test_stream_without_provider_usage_counts_tokens_locally(zhipu: ZhipuFake) -> None:
    zhipu.omit_stream_usage = True
    *_, final = make_provider(zhipu).stream(MESSAGES, model="glm-4")
    assert final.usage.prompt_tokens == count_messages(MESSAGES)
    assert final.usage.completion_tokens == count_tokens(final.content)


def test_rate_limit_1302_is_retried_then_succeeds(zhipu: ZhipuFake) -> None:
    # Given Zhipu answers 429/1302 twice
    zhipu.fail_next(status=429, code="1302", times=2)

    # When a completion is asked for with two retries allowed
    completion = make_provider(zhipu, max_retries=2).complete(MESSAGES, model="glm-4")

    # Then the third attempt's answer comes back
    assert len(zhipu.requests_to(CHAT)) == 3
    assert completion.content == ZhipuFake.reply_for(zhipu.requests[-1].body)


def test_persistent_rate_limit_becomes_unavailable_with_retry_after(zhipu: ZhipuFake) -> None:
    zhipu.fail_next(status=429, code="1302", times=10)

    with pytest.raises(UpstreamUnavailable) as caught:
        make_provider(zhipu, max_retries=2).complete(MESSAGES, model="glm-4")

    assert len(zhipu.requests) == 3  # bounded: 1 + max_retries
    assert caught.value.status == 503
    assert int(caught.value.headers["Retry-After"]) >= 1
    assert "1302" in caught.value.detail


def test_retry_after_beyond_the_deadline_gives_up_at_once_and_passes_it_on(zhipu: ZhipuFake) -> None:
    zhipu.fail_next(status=429, code="1305", times=5, retry_after=30)

    with pytest.raises(UpstreamUnavailable) as caught:
        make_provider(zhipu, deadline_s=2.0).complete(MESSAGES, model="glm-4")

    assert len(zhipu.requests) == 1
    assert caught.value.headers["Retry-After"] == "30"


def test_spent_quota_is_not_retried(zhipu: ZhipuFake) -> None:
    zhipu.fail_next(status=429, code="1304", times=5)

    with pytest.raises(UpstreamUnavailable) as caught:
        make_provider(zhipu).complete(MESSAGES, model="glm-4")

    assert len(zhipu.requests) == 1
    assert int(caught.value.headers["Retry-After"]) >= 60


def test_bad_key_is_an_upstream_error_that_never_shows_the_key(zhipu: ZhipuFake) -> None:
    bad_key = "badkeyid123456.badsecret987654"

    with pytest.raises(UpstreamError) as caught:
        make_provider(zhipu, api_key=bad_key).complete(MESSAGES, model="glm-4")

    error = caught.value
    assert error.status == 502
    assert "credentials" in error.detail
    for secret in (bad_key, "badsecret987654", "badkeyid123456"):
        assert secret not in error.detail
        assert secret not in str(error.to_problem())
    assert len(zhipu.requests) == 1  # a bad key is not retried


def test_server_error_is_retried_then_succeeds(zhipu: ZhipuFake) -> None:
    zhipu.fail_next(status=500, code="500", times=1)

    completion = make_provider(zhipu).complete(MESSAGES, model="glm-4")

    assert len(zhipu.requests) == 2
    assert completion.content == ZhipuFake.reply_for(zhipu.requests[-1].body)


def test_persistent_server_error_becomes_unavailable(zhipu: ZhipuFake) -> None:
    zhipu.fail_next(status=503, code="500", times=10)

    with pytest.raises(UpstreamUnavailable):
        make_provider(zhipu, max_retries=1).complete(MESSAGES, model="glm-4")

    assert len(zhipu.requests) == 2


@pytest.mark.parametrize(("code", "words"), [("1301", "unsafe"), ("1214", "参数非法")])
def test_content_and_parameter_errors_are_not_retried(zhipu: ZhipuFake, code: str, words: str) -> None:
    zhipu.fail_next(status=400, code=code, times=5)

    with pytest.raises(UpstreamError) as caught:
        make_provider(zhipu).complete(MESSAGES, model="glm-4")

    assert words in caught.value.detail
    assert len(zhipu.requests) == 1


def test_slow_response_times_out_after_bounded_retries(zhipu: ZhipuFake) -> None:
    # Given every answer takes longer than the 0.5 s per-attempt timeout
    zhipu.delay_next(3.0, times=10)

    # When a completion is asked for with one retry
    with pytest.raises(UpstreamTimeout) as caught:
        make_provider(zhipu, max_retries=1).complete(MESSAGES, model="glm-4")

    # Then both attempts were made and the caller gets a 504
    assert caught.value.status == 504
    assert len(zhipu.requests) == 2


def test_slow_first_attempt_then_success(zhipu: ZhipuFake) -> None:
    zhipu.delay_next(3.0, times=1)
    completion = make_provider(zhipu).complete(MESSAGES, model="glm-4")
    assert len(zhipu.requests) == 2
    assert completion.content


def test_total_time_is_bounded_by_the_deadline(zhipu: ZhipuFake) -> None:
    # Given an upstream that never answers in time, and many retries allowed
    zhipu.delay_next(5.0, times=100)
    provider = make_provider(zhipu, timeout_s=0.5, max_retries=50, deadline_s=1.2)

    # When a completion is asked for
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        provider.complete(MESSAGES, model="glm-4")
    elapsed = time.monotonic() - started

    # Then the call ends by its deadline (plus scheduling slack), not after 50 retries
    assert elapsed < 1.2 + 0.4
    assert 2 <= len(zhipu.requests) <= 3


def test_stream_rate_limit_before_first_piece_is_retried(zhipu: ZhipuFake) -> None:
    zhipu.fail_next(status=429, code="1302", times=1)

    *deltas, final = make_provider(zhipu).stream(MESSAGES, model="glm-4")

    assert len(zhipu.requests) == 2
    assert "".join(d.text for d in deltas) == final.content == ZhipuFake.reply_for(zhipu.requests[-1].body)


def test_stream_stalling_midway_times_out_without_a_retry(zhipu: ZhipuFake) -> None:
    # Given a stream that stalls after its first chunk
    zhipu.delay_next(3.0, after_chunks=1)
    received: list[str] = []

    # When it is consumed
    with pytest.raises(UpstreamTimeout):
        for event in make_provider(zhipu).stream(MESSAGES, model="glm-4"):
            assert isinstance(event, StreamDelta)
            received.append(event.text)

    # Then the text already delivered is not repeated by a retry
    assert received and len(zhipu.requests) == 1


def test_error_event_inside_a_stream_is_mapped(zhipu: ZhipuFake) -> None:
    zhipu.fail_next(status=200, code="1301", in_stream=True)

    with pytest.raises(UpstreamError) as caught:
        list(make_provider(zhipu).stream(MESSAGES, model="glm-4"))

    assert "unsafe" in caught.value.detail
    assert len(zhipu.requests) == 1


def test_stream_with_bad_key_is_an_upstream_error(zhipu: ZhipuFake) -> None:
    with pytest.raises(UpstreamError):
        list(make_provider(zhipu, api_key="nope.nope").stream(MESSAGES, model="glm-4"))


def test_sdk_token_mode_is_accepted_by_the_fake(zhipu: ZhipuFake) -> None:
    # The SDK can also send a JWT signed with the key's secret instead of the key itself.
    from zhipuai import ZhipuAI

    client = ZhipuAI(api_key=zhipu.api_key, base_url=zhipu.base_url, max_retries=0, disable_token_cache=False)
    reply = client.chat.completions.create(model="glm-4", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == ZhipuFake.reply_for(zhipu.requests[0].body)
    assert zhipu.requests[0].headers["authorization"] != f"Bearer {zhipu.api_key}"


def test_fake_embeddings_are_deterministic_and_honour_dimensions(zhipu: ZhipuFake) -> None:
    from zhipuai import ZhipuAI

    client = ZhipuAI(api_key=zhipu.api_key, base_url=zhipu.base_url, max_retries=0)
    first = client.embeddings.create(model="embedding-3", input=["退货政策", "shipping"], dimensions=512)
    again = client.embeddings.create(model="embedding-3", input="退货政策", dimensions=512)

    assert [len(d.embedding) for d in first.data] == [512, 512]
    assert first.data[0].embedding == again.data[0].embedding
    assert first.data[0].embedding != first.data[1].embedding
    assert abs(sum(v * v for v in first.data[0].embedding) - 1.0) < 1e-9

    with pytest.raises(Exception, match="64"):
        client.embeddings.create(model="embedding-3", input=[f"t{i}" for i in range(65)])
