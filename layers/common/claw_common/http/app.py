"""What every FastAPI function shares: app factory, problem+json mapping, request ids.

Exceptions become responses in exactly one place: here.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from claw_common.auth.caller import caller_from_event
from claw_common.errors import PROBLEM_CONTENT_TYPE, ClawError, problem, status_title
from claw_common.http.hygiene import clean_input
from claw_common.observability import MetricUnit, emit_metric, log_unhandled, logger, metrics

API_PREFIX = "/api/v1"


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_CONTENT_TYPE


def _request_id(scope: dict[str, Any]) -> str:
    event = scope.get("aws.event") or {}
    rid = (event.get("requestContext") or {}).get("requestId")
    return str(rid) if rid else str(uuid.uuid4())


class RequestIdMiddleware:
    """Adds ``X-Request-Id`` to every response, records request metrics by route, and turns
    any unhandled exception into a problem+json 500 (never a stack trace)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        caller = caller_from_event(scope.get("aws.event") or {})
        if caller is not None:
            # Every log line of this invocation names the caller (the correlation id is the request id).
            logger.append_keys(user_id=caller.user_id)
        started = False
        status = 500
        t0 = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log_unhandled("unhandled error", exc, path=scope.get("path"))
            if started:
                raise
            body = problem(500, detail="An unexpected error occurred.", instance=scope.get("path"))
            body["request_id"] = request_id
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", PROBLEM_CONTENT_TYPE.encode())],
                }
            )
            await send_with_id({"type": "http.response.body", "body": json.dumps(body).encode()})
        finally:
            _record_request(scope, status, (time.perf_counter() - t0) * 1000)


class TrailingSlashMiddleware:
    """Serves ``/path/`` as ``/path`` instead of redirecting (FastAPI's 307).

    Older clients send trailing slashes (``POST /api/v1/conversations/``); a redirect loses the
    body for clients that do not replay it, and behind an API Gateway stage its URL lacks the
    stage prefix. Every route of the API is declared without the slash.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path") or ""
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
            raw = scope.get("raw_path")
            if isinstance(raw, bytes) and raw.endswith(b"/"):
                scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


def _route_name(scope: dict[str, Any]) -> str:
    """``METHOD /path/{param}`` of the request (never the raw path: ids would explode the
    metric's cardinality). Built from the path and the matched route's path parameters, so it
    holds however routers were included."""
    if scope.get("route") is None:
        return f"{scope.get('method', '')} unmatched"
    by_value = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    segments = [f"{{{by_value[seg]}}}" if seg in by_value else seg for seg in str(scope.get("path", "")).split("/")]
    return f"{scope.get('method', '')} {'/'.join(segments)}"


def _record_request(scope: dict[str, Any], status: int, latency_ms: float) -> None:
    route = _route_name(scope)
    emit_metric("Requests", MetricUnit.Count, 1, route=route)
    emit_metric("Latency", MetricUnit.Milliseconds, round(latency_ms, 2), route=route)
    if status >= 500:
        emit_metric("Errors", MetricUnit.Count, 1, route=route)
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
    elif status >= 400:
        emit_metric("ClientErrors", MetricUnit.Count, 1, route=route, status=str(status))


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    """Field errors without the rejected input (it may be a password) or non-JSON context."""
    cleaned = []
    for err in errors:
        cleaned.append(
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "msg": str(err.get("msg", ""))[:300],
                "type": str(err.get("type", "")),
            }
        )
    return cleaned


def problem_response(exc: ClawError, request: Request) -> ProblemResponse:
    return ProblemResponse(exc.to_problem(instance=request.url.path), status_code=exc.status, headers=exc.headers)


def install_problem_handlers(app: FastAPI) -> None:
    """The one exception-to-response mapping of every API."""

    @app.exception_handler(ClawError)
    async def _claw_error(request: Request, exc: ClawError) -> ProblemResponse:
        if exc.status >= 500:
            logger.warning("request failed", extra={"status": exc.status, "problem": exc.slug})
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = _clean_errors(exc.errors())
        body = problem(
            422,
            detail="The request is not valid: " + "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5]),
            type_="https://claw.ai/problems/validation",
            instance=request.url.path,
            errors=errors,
        )
        return ProblemResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        detail = exc.detail if isinstance(exc.detail, str) else status_title(exc.status_code)
        body = problem(exc.status_code, detail=detail, instance=request.url.path)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request, fallback=headers.get("Allow", ""))
        return ProblemResponse(body, status_code=exc.status_code, headers=headers)


def allowed_methods(request: Request, fallback: str = "") -> str:
    """Every method the API accepts on this path (Starlette's own 405 names only the first
    route's), from the app's OpenAPI paths."""
    index = getattr(request.app.state, "allow_index", None)
    if index is None:
        index = [
            (re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", path) + "$"), {m.upper() for m in operations})
            for path, operations in request.app.openapi().get("paths", {}).items()
        ]
        request.app.state.allow_index = index
    methods: set[str] = set()
    for pattern, accepted in index:
        if pattern.match(request.url.path):
            methods |= accepted
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods)) or fallback


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem: what went wrong, for people (title, detail) and programs (type, status).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Field errors of a 422: where (loc), what (msg) and its kind (type).",
            "items": {"type": "object"},
        },
    },
    "additionalProperties": True,
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "The request was refused (problem+json: 400, 401, 403, 404, 405, 409, 413, 415, 422, 429)."},
    "5XX": {"description": "A dependency failed or timed out (problem+json: 500, 502, 503 with Retry-After, 504)."},
}
"""Declared on every route: every error of every API is a problem+json document."""


def _declare_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx response of the document is problem+json (routes only give descriptions)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for code, response in (operation.get("responses") or {}).items():
                if str(code)[0] in "45":
                    response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}}
    return schema


def _openapi_with_problems(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _declare_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _call_inline(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def run_sync_inline() -> None:
    """Sync endpoints and dependencies run on the request's own thread, not anyio's thread pool.

    An execution environment serves one request at a time and Mangum gives each its own
    event loop, so the pool buys no concurrency: it only costs a worker thread at the first
    request and a hand-off (two context switches) for every sync endpoint and dependency.
    FastAPI looks the helper up in these two modules when a request comes in.
    """
    import fastapi.dependencies.utils
    import fastapi.routing

    fastapi.routing.run_in_threadpool = _call_inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = _call_inline  # type: ignore[assignment]


def create_app(title: str, description: str = "", openapi_path: str | None = None) -> FastAPI:
    """A FastAPI app with CLAW.AI's error mapping, request ids, input hygiene and rate limits.

    ``openapi_path`` (under /api/v1) publishes the function's OpenAPI document on a route
    the template sends to that function; its error responses are declared as problem+json.
    """
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        openapi_url=f"{API_PREFIX}{openapi_path}" if openapi_path else None,
        docs_url=None,
        redoc_url=None,
        default_response_class=JSONResponse,
        dependencies=[Depends(clean_input)],
        responses=ERROR_RESPONSES,
        redirect_slashes=False,
    )
    _openapi_with_problems(app)
    install_problem_handlers(app)
    run_sync_inline()
    # Added first, so it runs inside the request-id middleware: 429/403/503 carry X-Request-Id.
    from claw_common.ratelimit.middleware import RateLimitMiddleware

    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TrailingSlashMiddleware)
    return app


def api_router(prefix: str = "", *, tags: list[str] | None = None) -> APIRouter:
    """The router of an API function's routes, each final as it is declared: under ``/api/v1``,
    with the input-hygiene dependency and the problem+json responses ``create_app`` gives every
    route. ``mount`` serves them as they are; ``include_router`` would have FastAPI analyse every
    route again (parameters, bodies, response models) at the first request, for its prefix and
    the app's dependencies: ~20-30 ms of each cold start."""
    router = APIRouter(
        prefix=f"{API_PREFIX}{prefix}",
        tags=list(tags or []),
        dependencies=[Depends(clean_input)],
        responses=dict(ERROR_RESPONSES),
    )
    router.claw_api_router = True  # type: ignore[attr-defined]
    return router


def mount(app: FastAPI, *routers: APIRouter) -> None:
    """Serve the routes of ``api_router`` routers on ``app``, in order."""
    for router in routers:
        if not getattr(router, "claw_api_router", False):
            raise TypeError("mount() takes routers made by api_router(); include others with app.include_router")
        app.router.routes.extend(router.routes)


def lambda_adapter(app: FastAPI) -> Any:
    """The Mangum adapter every API function wraps its app in (built once, at import).

    ``application/problem+json`` counts as text: otherwise Mangum base64-encodes error bodies,
    and API Gateway (which decodes only its binary media types) would hand clients base64.
    """
    from mangum import Mangum
    from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

    return Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, PROBLEM_CONTENT_TYPE])
