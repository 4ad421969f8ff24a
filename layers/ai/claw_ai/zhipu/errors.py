"""What a failed Zhipu call means: retry it, or raise which problem (502, 503, 504).

Zhipu answers errors as HTTP status plus a business code in ``{"error": {"code", "message"}}``;
the same body can arrive as an error event inside a 200 stream. Rate limits (429, codes
1302/1303/1305), 408/409/5xx, timeouts and connection errors may succeed on another attempt;
spent quotas, bad credentials, unsafe content and malformed requests never will.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from claw_common.errors import ClawError, UpstreamError, UpstreamTimeout, UpstreamUnavailable

RATE_LIMIT_CODES = frozenset({"1302", "1303", "1305"})  # concurrency / frequency / server busy: retry soon
QUOTA_CODES = frozenset({"1113", "1304", "1308", "1310"})  # arrears, daily/period caps: retrying won't help now
AUTH_CODES = frozenset({"1000", "1001", "1002", "1003", "1004", "1100", "1110", "1111", "1112", "1120", "1220"})
CONTENT_FILTER_CODES = frozenset({"1301"})  # input or output flagged as unsafe

QUOTA_RETRY_AFTER_S = 60
"""``Retry-After`` advertised when Zhipu reports a spent quota and sends no header of its own."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A classified upstream failure: what to raise, and whether another attempt may succeed."""

    kind: Literal["rate_limited", "unavailable", "timeout", "rejected"]
    retryable: bool
    detail: str
    retry_after_s: float | None = None
    credentials: bool = False
    """Zhipu refused our key (401/403): a rotated secret is read again (``credentials.zhipu_key_rejected``)."""

    def to_error(self, retry_after: float | None = None) -> ClawError:
        """The problem the caller sees: 504 timeout, 502 rejected, else 503 with ``Retry-After``."""
        if self.kind == "timeout":
            return UpstreamTimeout(self.detail)
        if self.kind == "rejected":
            return UpstreamError(self.detail)
        wait = retry_after if retry_after is not None else self.retry_after_s
        return UpstreamUnavailable(self.detail, retry_after=None if wait is None else max(1, math.ceil(wait)))


def error_body(response: Any) -> tuple[str | None, str]:
    """Zhipu's ``{"error": {"code", "message"}}`` from an error response, tolerating any body."""
    try:
        data = response.json()
    except Exception:  # noqa: BLE001 - a non-JSON error page (proxy, gateway) just has no code
        return None, ""
    error = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(error, Mapping):
        return None, ""
    code = error.get("code")
    return (None if code is None else str(code)), str(error.get("message") or "")[:200]


def retry_after_header(response: Any) -> float | None:
    try:
        value = float(response.headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def classify_status(status: int, code: str | None, message: str, retry_after: float | None) -> Failure:
    """A failure from an HTTP status and Zhipu business code."""
    where = f"HTTP {status}" + (f", code {code}" if code else "")
    if code in CONTENT_FILTER_CODES:
        return Failure("rejected", False, f"The AI provider refused the content as unsafe ({where}).")
    if code in QUOTA_CODES:
        return Failure(
            "rate_limited",
            False,
            f"The AI provider account has reached its quota or balance limit ({where}).",
            retry_after if retry_after is not None else QUOTA_RETRY_AFTER_S,
        )
    if status == 429 or code in RATE_LIMIT_CODES:
        return Failure("rate_limited", True, f"The AI provider is rate limiting requests ({where}).", retry_after)
    if status in (401, 403) or code in AUTH_CODES:
        # Never echo the upstream message here: it is about our credentials, not the user's request.
        detail = f"The AI provider rejected our credentials ({where}); check ZHIPUAI_API_KEY."
        return Failure("rejected", False, detail, credentials=True)
    if status in (408, 409) or status >= 500:
        return Failure("unavailable", True, f"The AI provider is unavailable ({where}).", retry_after)
    suffix = f": {message}" if message else ""
    return Failure("rejected", False, f"The AI provider rejected the request ({where}){suffix}")


def classify(exc: BaseException, scrub: Callable[[str], str] = lambda text: text) -> Failure:
    """The failure an exception of the SDK (or of httpx under it) stands for; ``scrub`` hides the key."""
    import httpx
    from zhipuai import APIConnectionError, APIResponseError, APIStatusError, APITimeoutError

    if isinstance(exc, APITimeoutError | httpx.TimeoutException):
        return Failure("timeout", True, "The AI provider did not answer in time.")
    if isinstance(exc, APIStatusError):
        code, message = error_body(exc.response)
        failure = classify_status(exc.status_code, code, message, retry_after_header(exc.response))
    elif isinstance(exc, APIConnectionError | httpx.TransportError):
        failure = Failure("unavailable", True, "The AI provider could not be reached.")
    elif isinstance(exc, APIResponseError) and isinstance(exc.json_data, Mapping):
        # An error event inside a 200 stream carries the same {code, message} as an error body.
        code = exc.json_data.get("code")
        message = str(exc.json_data.get("message") or "")[:200]
        failure = classify_status(200, None if code is None else str(code), message, None)
    else:
        failure = Failure("rejected", False, f"The AI provider returned an unusable response ({type(exc).__name__}).")
    return Failure(failure.kind, failure.retryable, scrub(failure.detail), failure.retry_after_s, failure.credentials)


def transport_errors() -> tuple[type[BaseException], ...]:
    """What a Zhipu call can raise: SDK errors, and httpx errors that escape while a stream body is read."""
    import httpx
    from zhipuai import ZhipuAIError

    return (ZhipuAIError, httpx.HTTPError)
