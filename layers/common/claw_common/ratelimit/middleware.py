"""Rate limiting for every FastAPI function (pure ASGI; ``create_app`` installs it).

The decision is :func:`claw_common.ratelimit.admission.admit` (shared with the WebSocket chat
action); this module turns it into HTTP: every limited response — success or not — carries
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` of the most restrictive
bucket; a refusal is a problem+json (403, 429 with ``Retry-After``, 503 when failing closed).

Identity comes only from the API Gateway event: the caller from
``requestContext.authorizer`` and the client IP from ``claw_common.http.client_ip``
(API Gateway sets it from the TCP connection; a client's ``X-Forwarded-For`` is never read).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from claw_common.auth.caller import caller_from_event
from claw_common.errors import PROBLEM_CONTENT_TYPE, ClawError
from claw_common.http.client_ip import client_ip
from claw_common.ratelimit.admission import OUTAGE_RETRY_AFTER_S, admit
from claw_common.ratelimit.limiter import RateLimiter, get_rate_limiter
from claw_common.ratelimit.policy import RateLimitPolicy, is_unlimited_path, load_policy, route_group_for


async def _send_problem(send: Any, scope: dict[str, Any], exc: ClawError) -> None:
    body = json.dumps(exc.to_problem(instance=scope.get("path"))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()],
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
        try:
            admission = admit(
                caller_from_event(scope.get("aws.event") or {}),
                client_ip(scope),
                route_group_for(path, scope.get("method")),
                limiter=self.limiter,
                policy=self.policy,
                path=path,
            )
        except ClawError as exc:
            await _send_problem(send, scope, exc)
            return
        if not admission.headers:
            await self.app(scope, receive, send)
            return

        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in admission.headers.items()]

        async def send_with_limits(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*(message.get("headers") or []), *raw_headers]}
            await send(message)

        await self.app(scope, receive, send_with_limits)


__all__ = ["OUTAGE_RETRY_AFTER_S", "RateLimitMiddleware", "client_ip"]
