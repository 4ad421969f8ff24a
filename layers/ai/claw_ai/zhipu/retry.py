"""One deadline-aware retry policy for every Zhipu call (tenacity underneath).

The SDK's own retries are off (``max_retries=0``): they sleep up to 8 s whatever is left of
the invocation and retry every 429, a spent quota included. Here a call makes at most
``1 + max_retries`` attempts, all inside its deadline: each attempt gets
``min(timeout_s, time left)``; between attempts the wait is exponential (``backoff_base_s *
2**n``, capped at ``backoff_max_s``) with equal jitter, or the server's ``Retry-After`` if
longer; no attempt starts that could not get at least ``min_attempt_s``. Only failures
:func:`claw_ai.zhipu.errors.classify` calls retryable are retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from claw_ai.zhipu.errors import Failure
from claw_common.errors import ClawError, UpstreamTimeout
from claw_common.observability import logger


class NoTimeLeft(UpstreamTimeout):
    """The deadline left no room for an attempt."""


@dataclass
class RetryPolicy:
    """How often and how long a Zhipu call may try, and how long it waits between attempts."""

    max_retries: int = 2
    timeout_s: float = 20.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 4.0
    min_attempt_s: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, retry_index: int) -> float:
        """Equal jitter: half the exponential step, plus up to the other half at random."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0**retry_index)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def attempt_timeout(self, deadline: float) -> float:
        """The timeout of the next attempt; :class:`NoTimeLeft` when the deadline leaves too little."""
        left = deadline - time.monotonic()
        if left < self.min_attempt_s:
            raise NoTimeLeft("No time was left to call the AI provider.")
        return min(self.timeout_s, left)

    def attempts(
        self,
        deadline: float,
        classify: Callable[[BaseException], Failure],
        errors: tuple[type[BaseException], ...],
        *,
        what: str,
        may_retry: Callable[[], bool] = lambda: True,
    ) -> Retrying:
        """A tenacity ``Retrying`` for one call: iterate it and run one attempt per ``with attempt:``.

        ``errors`` are the exceptions to classify; anything else (a ``ClawError`` raised on
        purpose) ends the call at once. ``may_retry`` can veto a retry (a stream that already
        produced text). After the last attempt the last exception is re-raised unchanged.
        """

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, errors) and may_retry() and classify(exc).retryable

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = classify(exc).retry_after_s if exc is not None else None
            return max(self.backoff(state.attempt_number - 1), retry_after or 0.0)

        def log_failure(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            detail = classify(exc).detail if exc is not None else ""
            logger.warning(f"zhipu {what} attempt failed", extra={"attempt": state.attempt_number, "detail": detail})

        return Retrying(
            retry=retry_if_exception(retryable),
            wait=wait,
            stop=stop_after_attempt(self.max_retries + 1) | _StopBefore(deadline, self.min_attempt_s),
            sleep=self.sleep,
            after=log_failure,
            reraise=True,
        )

    def give_up(self, failure: Failure) -> ClawError:
        """The problem for the caller once no attempt is left; rate limits say when to come back."""
        retry_after = failure.retry_after_s
        if failure.kind in ("rate_limited", "unavailable") and retry_after is None:
            retry_after = max(1.0, self.backoff_base_s * 2.0**self.max_retries)
        return failure.to_error(retry_after)


class _StopBefore(stop_base):
    """Stop when the next attempt, after its wait, could not get ``min_attempt_s`` before ``deadline``."""

    def __init__(self, deadline: float, min_attempt_s: float) -> None:
        self.deadline = deadline
        self.min_attempt_s = min_attempt_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + retry_state.upcoming_sleep + self.min_attempt_s > self.deadline


def sdk_client(api_key: str, base_url: str | None, timeout_s: float, connect_timeout_s: float = 3.0) -> Any:
    """The ``zhipuai`` SDK client with its own retries off (this module's policy is the only one).

    Imported here, not at module import: zhipuai (+ httpx, pydantic models) costs ~0.4 s.
    """
    import httpx
    from zhipuai import ZhipuAI

    from claw_common.observability import trace_calls_of

    trace_calls_of("httpx")
    return ZhipuAI(
        api_key=api_key,
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        max_retries=0,
    )
