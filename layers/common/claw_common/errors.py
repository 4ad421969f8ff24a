"""Domain exceptions and their RFC 9457 problem+json form.

Every API maps these to a response in exactly one place (``claw_common.http.app``); adapters
translate driver errors into them with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://claw.ai/problems/"


class ClawError(Exception):
    """Base of every error that becomes a problem+json response."""

    status: int = 500
    title: str = "Internal Server Error"
    slug: str = "internal"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        return problem(self.status, self.title, self.detail, type_=self.type, instance=instance, **self.extra)


class BadRequest(ClawError):
    status, title, slug = 400, "Bad Request", "bad-request"


class Unauthorized(ClawError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(ClawError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(ClawError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(ClawError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(ClawError):
    status, title, slug = 413, "Payload Too Large", "payload-too-large"


class UnsupportedMediaType(ClawError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class ValidationFailed(ClawError):
    """422 with field errors: ``errors=[{"loc": [...], "msg": "...", "type": "..."}]``."""

    status, title, slug = 422, "Unprocessable Content", "validation"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        extra = kw.pop("extra", {}) or {}
        if errors is not None:
            extra["errors"] = errors
        super().__init__(detail, extra=extra, **kw)


class RateLimited(ClawError):
    status, title, slug = 429, "Too Many Requests", "rate-limited"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1, **kw: Any) -> None:
        headers = kw.pop("headers", {}) or {}
        headers.setdefault("Retry-After", str(max(1, int(retry_after))))
        super().__init__(detail, headers=headers, **kw)
        self.retry_after = max(1, int(retry_after))


class QuotaExceeded(RateLimited):
    title, slug = "Token Quota Exceeded", "quota-exceeded"


class UpstreamError(ClawError):
    """The AI provider (or another upstream) answered with an error we cannot fix by retrying."""

    status, title, slug = 502, "Bad Gateway", "upstream-error"


class UpstreamUnavailable(ClawError):
    status, title, slug = 503, "Service Unavailable", "upstream-unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None, **kw: Any) -> None:
        headers = kw.pop("headers", {}) or {}
        if retry_after is not None:
            headers.setdefault("Retry-After", str(max(1, int(retry_after))))
        super().__init__(detail, headers=headers, **kw)


class UpstreamTimeout(ClawError):
    status, title, slug = 504, "Gateway Timeout", "upstream-timeout"


class DependencyUnavailable(ClawError):
    """Our own backing service (database, cache) is unreachable."""

    status, title, slug = 503, "Service Unavailable", "dependency-unavailable"


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def status_title(status: int) -> str:
    return _TITLES.get(status, "Error")


def problem(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type_: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build a problem+json body."""
    body: dict[str, Any] = {
        "type": type_ or "about:blank",
        "title": title or status_title(status),
        "status": status,
        "detail": detail or title or status_title(status),
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body
