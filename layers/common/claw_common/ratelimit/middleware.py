"""Rate limiting for every FastAPI function (pure ASGI; ``create_app`` installs it).

Per request: the deny list answers 403, the allow list skips every limit, then the global,
user (by tier), IP and route-group buckets are checked in one Redis call. Every limited
response — success or not — carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset`` of the most restrictive bucket; a refusal is a 429 problem with
``Retry-After``.

Identity comes only from the API Gateway event: the caller from
``requestContext.authorizer`` and the client IP from ``requestContext.identity.sourceIp``
(API Gateway sets it from the TCP connection; a client's ``X-Forwarded-For`` is never read).

Redis down: API routes pass (fail open) with the ``RateLimiterUnavailable`` metric and a
warning; route groups marked ``fail_closed`` (login, register) answer 503.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from claw_common.auth.caller import caller_from_event
from claw_common.errors import PROBLEM_CONTENT_TYPE, ClawError, DependencyUnavailable, Forbidden, RateLimited
from claw_common.observability import MetricUnit, emit_metric, logger, metrics
from claw_common.ratelimit.limiter import (
    RateLimiter,
    RateLimiterUnavailable,
    RateLimitPolicy,
    get_rate_limiter,
    is_unlimited_path,
    load_policy,
    route_group_for,
)

# Seconds a client is told to wait when login/register fail closed during a Redis outage.
OUTAGE_RETRY_AFTER_S = 5


def client_ip(scope: Mapping[str, Any]) -> str:
    """The client's address as API Gateway saw it (``requestContext.identity.sourceIp``)."""
    event = scope.get("aws.event") or {}
    ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp")
    if ip:
        return str(ip)
    # Without an API Gateway event (an ASGI server in front) the socket peer is the only truth.
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _send_problem(send: Any, scope: dict[str, Any], exc: ClawError, extra_headers: dict[str, str]) -> None:
    body = json.dumps(exc.to_problem(instance=scope.get("path"))).encode()
    headers = {**extra_headers, **exc.headers}
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimitMiddleware:
    """ASGI middleware enforcing the rate limit policy (see the module docstring).

    ``limiter`` and ``policy`` are factories so tests and other apps can inject their own;
    the defaults are the process's limiter and the policy from config.
    """

    def __init__(
        self,
        app: Any,
        limiter: Callable[[], RateLimiter] = get_rate_limiter,
        policy: Callable[[], RateLimitPolicy] = load_policy,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.policy = policy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or is_unlimited_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        ip = client_ip(scope)
        policy = self.policy()
        if policy.is_denied(ip):
            emit_metric("RequestsDenied", MetricUnit.Count, 1, scope="deny_list")
            logger.info("request from a denied address", extra={"path": path})
            await _send_problem(send, scope, Forbidden("Requests from this address are not allowed."), {})
            return
        if policy.is_allowed(ip):
            await self.app(scope, receive, send)
            return

        caller = caller_from_event(scope.get("aws.event") or {})
        group = route_group_for(path, scope.get("method"))
        buckets = policy.buckets_for(caller, ip, group)
        try:
            decision = self.limiter().check(buckets)
        except RateLimiterUnavailable as exc:
            metrics.add_metric(name="RateLimiterUnavailable", unit=MetricUnit.Count, value=1)
            closed = group is not None and group.fail_closed
            logger.warning(
                "rate limiter unavailable; failing " + ("closed" if closed else "open"),
                extra={"path": path, "route_group": group.name if group else None, "error": str(exc)},
            )
            if closed:
                await _send_problem(
                    send,
                    scope,
                    DependencyUnavailable(
                        "This endpoint is temporarily unavailable; retry shortly.", headers={}, extra={}
                    ),
                    {"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
                )
                return
            await self.app(scope, receive, send)
            return

        headers = decision.headers()
        if not decision.allowed:
            refused_by = decision.most_restrictive
            # Plain (service only) for the dashboard and alarms; by bucket scope to see who limits.
            metrics.add_metric(name="RateLimited", unit=MetricUnit.Count, value=1)
            emit_metric("RateLimited", MetricUnit.Count, 1, scope=(refused_by.scope if refused_by else "unknown"))
            await _send_problem(
                send,
                scope,
                RateLimited(
                    "Too many requests; retry after the time in the Retry-After header.",
                    retry_after=decision.retry_after_s,
                ),
                headers,
            )
            return

        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

        async def send_with_limits(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*(message.get("headers") or []), *raw_headers]}
            await send(message)

        await self.app(scope, receive, send_with_limits)


__all__ = ["OUTAGE_RETRY_AFTER_S", "RateLimitMiddleware", "client_ip"]
