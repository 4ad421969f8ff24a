"""Zhipu GLM chat through the ``zhipuai`` SDK, within the caller's deadline.

Retries follow :class:`claw_ai.zhipu.retry.RetryPolicy`; a stream is retried only before its
first text piece, so a caller never receives text twice. Errors raised (from the last
failure): ``UpstreamTimeout`` (timeouts, or the deadline), ``UpstreamUnavailable`` with
``retry_after`` (rate limits, quotas, 5xx, connection errors), ``UpstreamError`` (everything a
retry cannot fix). Details never contain the API key.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

from claw_ai.messages import ChatMessage, Completion, Passage, StreamDelta, StreamEvent, Usage
from claw_ai.tokens import count_messages, count_tokens
from claw_ai.zhipu.errors import Failure, classify, transport_errors
from claw_ai.zhipu.retry import RetryPolicy, sdk_client
from claw_common.errors import UpstreamTimeout


def _elapsed_ms(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


class ZhipuProvider:
    """Zhipu GLM chat completions, whole or streamed, inside ``deadline_s``."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout_s: float = 20.0,
        connect_timeout_s: float = 3.0,
        max_retries: int = 2,
        deadline_s: float = 25.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 4.0,
        min_attempt_s: float = 0.2,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("ZhipuProvider needs an API key; use OfflineProvider without one")
        self._api_key = api_key
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.deadline_s = deadline_s
        self.policy = RetryPolicy(
            max_retries=max(0, max_retries),
            timeout_s=timeout_s,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            min_attempt_s=min_attempt_s,
            rng=rng or random.Random(),  # noqa: S311 - jitter, not cryptography
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"ZhipuProvider(base_url={self.base_url!r}, timeout_s={self.timeout_s}, deadline_s={self.deadline_s})"

    @cached_property
    def _client(self) -> Any:
        return sdk_client(self._api_key, self.base_url, self.timeout_s, self.connect_timeout_s)

    def _scrub(self, text: str) -> str:
        key_id = self._api_key.split(".", 1)[0]
        for secret in (self._api_key, key_id if len(key_id) >= 8 else None):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _classify(self, exc: BaseException) -> Failure:
        failure = classify(exc, self._scrub)
        if failure.credentials:
            from claw_ai.zhipu.credentials import zhipu_key_rejected

            zhipu_key_rejected(self._api_key)  # a rotated key: the next call reads the secret again
        return failure

    @staticmethod
    def _request(
        messages: Sequence[ChatMessage], model: str, temperature: float | None, max_tokens: int | None
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": model, "messages": [m.to_dict() for m in messages]}
        if temperature is not None:
            kwargs["temperature"] = temperature
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        return kwargs

    def _deadline(self, started: float, deadline_s: float | None) -> float:
        return started + (self.deadline_s if deadline_s is None else deadline_s)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        context: Sequence[Passage] | None = None,
        deadline_s: float | None = None,
    ) -> Completion:
        """One chat completion (see the module docstring for retries and errors); ``context`` is unused."""
        started = time.monotonic()
        deadline = self._deadline(started, deadline_s)
        request = self._request(messages, model, temperature, max_tokens)
        errors = transport_errors()
        try:
            for attempt in self.policy.attempts(deadline, self._classify, errors, what="chat"):
                with attempt:
                    timeout = self.policy.attempt_timeout(deadline)
                    response = self._client.chat.completions.create(**request, timeout=timeout)
        except errors as exc:
            raise self.policy.give_up(self._classify(exc)) from exc
        return self._to_completion(response, messages, model, started)

    @staticmethod
    def _to_completion(response: Any, messages: Sequence[ChatMessage], model: str, started: float) -> Completion:
        choice = response.choices[0] if response.choices else None
        content = (choice.message.content if choice else None) or ""
        usage = response.usage
        if usage is not None:
            counted = Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        else:
            counted = Usage.of(count_messages(messages), count_tokens(content))
        finish = choice.finish_reason if choice else None
        return Completion(content, response.model or model, counted, finish, _elapsed_ms(started))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        model: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        context: Sequence[Passage] | None = None,
        deadline_s: float | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream a chat completion: ``StreamDelta`` pieces as they arrive, then the ``Completion``.

        Usage is the final chunk's; if Zhipu sends none it is counted locally. The deadline
        covers the whole stream: a stream still running at the deadline ends in ``UpstreamTimeout``.
        """
        started = time.monotonic()
        deadline = self._deadline(started, deadline_s)
        request = self._request(messages, model, temperature, max_tokens)
        errors = transport_errors()
        parts: list[str] = []
        state: dict[str, Any] = {}
        try:
            for attempt in self.policy.attempts(
                deadline, self._classify, errors, what="stream", may_retry=lambda: not parts
            ):
                with attempt:
                    state = {"usage": None, "finish": None, "model": None}
                    timeout = self.policy.attempt_timeout(deadline)
                    response = self._client.chat.completions.create(**request, stream=True, timeout=timeout)
                    try:
                        for chunk in response:
                            for piece in self._read_chunk(chunk, state):
                                parts.append(piece)
                                yield StreamDelta(piece)
                            if time.monotonic() > deadline:
                                raise UpstreamTimeout("The AI provider's answer did not finish in time.")
                    finally:
                        response.response.close()
        except errors as exc:
            raise self.policy.give_up(self._classify(exc)) from exc
        content = "".join(parts)
        usage = state["usage"]
        if usage is not None:
            counted = Usage(usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
        else:
            counted = Usage.of(count_messages(messages), count_tokens(content))
        yield Completion(content, state["model"] or model, counted, state["finish"], _elapsed_ms(started))

    @staticmethod
    def _read_chunk(chunk: Any, state: dict[str, Any]) -> list[str]:
        """The text pieces of one streamed chunk; its model, usage and finish reason go into ``state``."""
        state["model"] = chunk.model or state["model"]
        state["usage"] = chunk.usage or state["usage"]
        pieces = []
        for choice in chunk.choices:
            if choice.finish_reason:
                state["finish"] = choice.finish_reason
            if choice.delta and choice.delta.content:
                pieces.append(choice.delta.content)
        return pieces
