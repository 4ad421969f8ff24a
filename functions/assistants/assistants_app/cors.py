"""CORS for the assistants' public routes: the widget calls them from the owner's website.

``Access-Control-Allow-Origin`` is ``*`` for an assistant without ``allowed_origins`` (visitor
calls carry a bearer token, never cookies) and the page's own origin when it is listed; any
other origin gets no CORS headers, so the browser keeps the response from the page. Preflight
(``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, before rate limits and
routing. Errors (401, 403, 429) carry the headers too, so the widget can read them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from claw_common.http.app import API_PREFIX

PUBLIC_PATH = re.compile(rf"^{API_PREFIX}/public/assistants/([^/]+)(?:/.*)?$")
ALLOW_METHODS = "POST, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-Id"
PREFLIGHT_MAX_AGE_S = 600
ORIGINS_TTL_S = 30.0
"""How long a container trusts an assistant's allowed origins before reading them again."""

OriginsOf = Callable[[str], list[str] | None]
"""An assistant's allowed origins by public id ([] = any), None for no active assistant."""


class TtlOrigins:
    """``OriginsOf`` with a short in-process cache in front of a loader."""

    def __init__(self, load: OriginsOf, ttl_s: float = ORIGINS_TTL_S) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, list[str] | None]] = {}

    def __call__(self, public_id: str) -> list[str] | None:
        now = time.monotonic()
        hit = self._cache.get(public_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = self._load(public_id)
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[public_id] = (now + self._ttl_s, value)
        return value


def allow_origin(origins: list[str] | None, origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for a request from ``origin``, or None."""
    if origins is None or not origin:
        return None
    if not origins:
        return "*"
    normalised = origin.lower().rstrip("/")
    return origin if normalised in origins else None


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class PublicCorsMiddleware:
    """Adds CORS to ``/api/v1/public/assistants/{public_id}/…`` (see the module docstring)."""

    def __init__(self, app: Any, origins_of: OriginsOf) -> None:
        self.app = app
        self.origins_of = origins_of

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = PUBLIC_PATH.match(scope.get("path") or "") if scope["type"] == "http" else None
        origin = _header(scope, b"origin") if match else None
        if match is None or origin is None:
            await self.app(scope, receive, send)
            return
        allowed = allow_origin(self.origins_of(match.group(1)), origin)
        cors = [(b"vary", b"Origin")]
        if allowed is not None:
            cors += [
                (b"access-control-allow-origin", allowed.encode("latin-1")),
                (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
            ]
        if scope.get("method") == "OPTIONS" and _header(scope, b"access-control-request-method"):
            if allowed is not None:
                cors += [
                    (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                    (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
                    (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
                ]
            await send({"type": "http.response.start", "status": 204 if allowed else 403, "headers": cors})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*(message.get("headers") or []), *cors]}
            await send(message)

        await self.app(scope, receive, send_with_cors)
