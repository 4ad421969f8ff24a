"""A local API Gateway (REST API) on 127.0.0.1:3000.

Each HTTP request becomes the proxy event API Gateway would send: the resource is chosen
as API Gateway chooses it (literal segments before ``{param}`` before ``{proxy+}``, then the
method), the REQUEST authorizer runs first where the template says so (identity sources,
policy cache with TTL, policy evaluated against the method ARN), its context is passed on
in ``requestContext.authorizer``, and gateway responses use the template's templates.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio

from claw_local.lambda_api import LocalLambdaApi
from claw_local.lambda_runtime import LocalLambdas
from claw_local.static import StaticSite
from claw_local.template import LOCAL_ACCOUNT_ID, LocalStack, Route

API_ID = "clawlocal"
access_log = logging.getLogger("claw_local.access")
Response = tuple[int, list[tuple[str, str]], bytes]
# The local stand-in for API Gateway's FlushStageAuthorizersCache (``make admin`` calls it, so a
# promotion applies at once); loopback only, like everything the gateway serves.
FLUSH_AUTHORIZERS_PATH = "/_local/flush-authorizers-cache"

# The synchronous Lambda invoke payload limit: what API Gateway can hand to a function.
MAX_LAMBDA_PAYLOAD = 6 * 1024 * 1024
RESPONSE_TYPE_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "THROTTLED": 429,
    "REQUEST_TOO_LARGE": 413,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "API_CONFIGURATION_ERROR": 500,
}


@dataclass
class Match:
    route: Route
    path_parameters: dict[str, str]


def match_route(routes: list[Route], path: str, method: str) -> Match | None:
    """API Gateway's choice: the most specific resource, then its method (or ANY)."""
    segments = [s for s in path.split("/") if s]
    by_resource: dict[str, list[Route]] = {}
    for route in routes:
        by_resource.setdefault(route.path, []).append(route)

    best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
    for resource, _ in by_resource.items():
        params = _match_resource([s for s in resource.split("/") if s], segments)
        if params is None:
            continue
        rank = _rank(resource)
        if best is None or rank > best[0]:
            best = (rank, resource, params)
    if best is None:
        return None
    _, resource, params = best
    candidates = by_resource[resource]
    for route in candidates:
        if route.method == method:
            return Match(route, params)
    for route in candidates:
        if route.method == "ANY":
            return Match(route, params)
    return None


def _match_resource(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for i, part in enumerate(pattern):
        if part.startswith("{") and part.endswith("+}"):
            rest = segments[i:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            return params
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[i]
        elif part != segments[i]:
            return None
    return params if len(pattern) == len(segments) else None


def _rank(resource: str) -> tuple[int, ...]:
    # Literal segments outrank {param}, which outranks {proxy+}; earlier segments decide first.
    rank = []
    for part in [s for s in resource.split("/") if s]:
        rank.append(1 if part.endswith("+}") else 2 if part.startswith("{") else 3)
    return (*rank, 0)


def _policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    allowed = False
    for stmt in (policy or {}).get("Statement") or []:
        resources = stmt.get("Resource")
        resources = resources if isinstance(resources, list) else [resources]
        actions = stmt.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(a in ("execute-api:Invoke", "execute-api:*", "*") for a in actions):
            continue
        if any(_arn_match(str(r), method_arn) for r in resources):
            if stmt.get("Effect") == "Deny":
                return False
            if stmt.get("Effect") == "Allow":
                allowed = True
    return allowed


def _arn_match(pattern: str, arn: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, arn) is not None


class AuthorizerCache:
    """API Gateway's policy cache, keyed by the identity sources' values."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > time.monotonic():
                return entry[1]
            self._entries.pop(key, None)
            return None

    def put(self, key: tuple[str, ...], ttl: int, result: dict[str, Any]) -> None:
        if ttl > 0:
            with self._lock:
                self._entries[key] = (time.monotonic() + ttl, result)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class GatewayError(Exception):
    def __init__(self, response_type: str, message: str) -> None:
        super().__init__(message)
        self.response_type = response_type
        self.message = message


class LocalGateway:
    """The ASGI app of the local API Gateway."""

    def __init__(self, stack: LocalStack, lambdas: LocalLambdas, websocket: Any = None) -> None:
        self.stack = stack
        self.lambdas = lambdas
        self.authorizer_cache = AuthorizerCache()
        self.websocket = websocket  # the WebSocket API, when the template has one
        self.static = StaticSite()  # the console and widget.js (web/dist) on every path outside /api
        self.lambda_api = LocalLambdaApi(lambdas)  # functions invoking functions (AWS_ENDPOINT_URL_LAMBDA)

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            if self.websocket is None:
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.websocket(scope, receive, send)
            return
        body = bytearray()
        too_large = False
        while True:
            message = await receive()
            if message["type"] == "http.request":
                if not too_large:
                    body.extend(message.get("body", b""))
                    too_large = len(body) > MAX_LAMBDA_PAYLOAD
                    if too_large:
                        body.clear()
                if not message.get("more_body"):
                    break
            elif message["type"] == "http.disconnect":
                return
        status, headers, payload = await self._respond(scope, bytes(body), too_large)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _respond(self, scope: dict[str, Any], body: bytes, too_large: bool) -> Response:
        path = scope.get("path") or "/"
        if self.websocket is not None and self.websocket.is_management_path(path):
            # The WebSocket management API (post_to_connection) is served on the event loop
            # that owns the sockets.
            return await self.websocket.management(scope["method"], path, body)
        if self.lambda_api.serves(path):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
            return await anyio.to_thread.run_sync(
                self.lambda_api.invoke, scope["method"], path, headers, body, too_large
            )
        if self.static.serves(path) and path != FLUSH_AUTHORIZERS_PATH:
            return await anyio.to_thread.run_sync(self.static.respond, scope)
        return await anyio.to_thread.run_sync(self.handle, scope, body, too_large)

    # ------------------------------------------------------------------ request handling
    def handle(self, scope: dict[str, Any], body: bytes, too_large: bool = False) -> Response:
        """One request: the response, and one access line (request id, route, status, latency)."""
        request_id = str(uuid.uuid4())
        path = scope.get("path") or "/"
        method = scope["method"].upper()
        started = time.perf_counter()
        route = "-"
        status = 500
        try:
            if method == "POST" and path == FLUSH_AUTHORIZERS_PATH:
                self.authorizer_cache.clear()
                route, status = "flush-authorizers-cache", 204
                return status, [], b""
            match = None if too_large else match_route(self.stack.routes, path, method)
            if match is not None:
                route = f"{match.route.method} {match.route.path} -> {match.route.function}"
            status, headers, payload = self._handle(scope, body, too_large, request_id, match)
            if not any(k.lower() == "x-request-id" for k, _ in headers):
                headers.append(("X-Request-Id", request_id))
            return status, headers, payload
        finally:
            access_log.info(
                "%s %s %s %.1fms request_id=%s route=%s",
                method,
                path,
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
                route,
            )

    def _handle(
        self, scope: dict[str, Any], body: bytes, too_large: bool, request_id: str, match: Match | None
    ) -> Response:
        path = scope.get("path") or "/"
        method = scope["method"].upper()
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for raw_key, raw_value in scope.get("headers") or []:
            key = raw_key.decode("latin-1")
            value = raw_value.decode("latin-1")
            # API Gateway keeps the last value in `headers` and every value in `multiValueHeaders`.
            canonical = "-".join(part.capitalize() for part in key.split("-"))
            headers[canonical] = value
            multi_headers.setdefault(canonical, []).append(value)
        client = scope.get("client") or ("127.0.0.1", 0)
        try:
            if too_large:
                raise GatewayError("REQUEST_TOO_LARGE", "Request Too Large")
            if match is None:
                raise GatewayError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
            query = scope.get("query_string", b"").decode("latin-1")
            event = self._proxy_event(match, path, method, headers, multi_headers, query, body, request_id, client[0])
            if match.route.authorized and self.stack.authorizer is not None:
                event["requestContext"]["authorizer"] = self._authorize(event, headers)
            return self._invoke(match.route.function, event, request_id)
        except GatewayError as err:
            return self.gateway_response(err.response_type, err.message, path, request_id)

    def _proxy_event(
        self,
        match: Match,
        path: str,
        method: str,
        headers: dict[str, str],
        multi_headers: dict[str, list[str]],
        query: str,
        body: bytes,
        request_id: str,
        source_ip: str,
    ) -> dict[str, Any]:
        pairs = parse_qsl(query, keep_blank_values=True)
        qs: dict[str, str] = {}
        mqs: dict[str, list[str]] = {}
        for k, v in pairs:
            qs[k] = v
            mqs.setdefault(k, []).append(v)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        is_binary = any(content_type.lower().startswith(t) for t in self.stack.binary_media_types)
        if body and not is_binary:
            try:
                text: str | None = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            is_binary = text is None
        now = datetime.now(UTC)
        stage = self.stack.stage
        return {
            "resource": match.route.path,
            "path": path,
            "httpMethod": method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": qs or None,
            "multiValueQueryStringParameters": mqs or None,
            "pathParameters": match.path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": match.route.path,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{stage}{path}",
                "accountId": LOCAL_ACCOUNT_ID,
                "protocol": "HTTP/1.1",
                "stage": stage,
                "domainPrefix": "localhost",
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": headers.get("User-Agent"),
                    "accessKey": None,
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                },
                "domainName": headers.get("Host", "127.0.0.1"),
                "apiId": API_ID,
            },
            "body": (base64.b64encode(body).decode() if is_binary else body.decode("utf-8")) if body else None,
            "isBase64Encoded": bool(body) and is_binary,
        }

    def method_arn(self, event: dict[str, Any]) -> str:
        return (
            f"arn:aws:execute-api:{self.stack.region}:{LOCAL_ACCOUNT_ID}:{API_ID}/{self.stack.stage}/"
            f"{event['httpMethod']}{event['path']}"
        )

    def _authorize(self, event: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        spec = self.stack.authorizer
        assert spec is not None
        lower = {k.lower(): v for k, v in headers.items()}
        identity = tuple(lower.get(h.lower(), "") for h in spec.identity_headers)
        if any(not v.strip() for v in identity):
            # API Gateway answers 401 itself when an identity source is missing.
            raise GatewayError("UNAUTHORIZED", "Unauthorized")
        method_arn = self.method_arn(event)
        cached = self.authorizer_cache.get(identity) if spec.identity_headers else None
        if cached is None:
            auth_event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                "resource": event["resource"],
                "path": event["path"],
                "httpMethod": event["httpMethod"],
                "headers": event["headers"],
                "multiValueHeaders": event["multiValueHeaders"],
                "queryStringParameters": event["queryStringParameters"],
                "multiValueQueryStringParameters": event["multiValueQueryStringParameters"],
                "pathParameters": event["pathParameters"],
                "stageVariables": None,
                "requestContext": {k: v for k, v in event["requestContext"].items() if k != "authorizer"},
            }
            try:
                result = self.lambdas[spec.function].invoke(auth_event)
            except Exception as exc:
                if str(exc) == "Unauthorized":
                    raise GatewayError("UNAUTHORIZED", "Unauthorized") from exc
                raise GatewayError("AUTHORIZER_FAILURE", "Authorizer failure") from exc
            if not isinstance(result, dict) or "policyDocument" not in result:
                raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR", "Authorizer returned an invalid response")
            cached = result
            if spec.identity_headers:
                self.authorizer_cache.put(identity, spec.ttl_seconds, result)
        if not _policy_allows(cached.get("policyDocument") or {}, method_arn):
            raise GatewayError("ACCESS_DENIED", "User is not authorized to access this resource")
        context = {k: v for k, v in (cached.get("context") or {}).items() if isinstance(v, str | int | float | bool)}
        return {"principalId": cached.get("principalId"), "integrationLatency": 0, **context}

    def _invoke(
        self, function: str, event: dict[str, Any], request_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            result = self.lambdas[function].invoke(event)
        except Exception:
            import logging

            logging.getLogger("claw_local").exception("function %s failed", function)
            return (
                502,
                [("Content-Type", "application/json"), ("X-Request-Id", request_id)],
                json.dumps({"message": "Internal server error"}).encode(),
            )
        if not isinstance(result, dict) or "statusCode" not in result:
            return (
                502,
                [("Content-Type", "application/json"), ("X-Request-Id", request_id)],
                json.dumps({"message": "Internal server error"}).encode(),
            )
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        for key, values in (result.get("multiValueHeaders") or {}).items():
            seen.add(key.lower())
            for value in values:
                out.append((key, str(value)))
        for key, value in (result.get("headers") or {}).items():
            if key.lower() not in seen:
                out.append((key, str(value)))
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        return int(result["statusCode"]), out, payload

    def gateway_response(
        self, response_type: str, message: str, path: str, request_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Render a gateway response from the template (its type, else DEFAULT_4XX/5XX)."""
        status = RESPONSE_TYPE_STATUS.get(response_type, 500)
        spec = self.stack.gateway_responses.get(response_type) or self.stack.gateway_responses.get(
            "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        )
        if not spec:
            return status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode()
        status = int(spec.get("StatusCode") or status)
        text = (spec.get("ResponseTemplates") or {}).get("application/json") or json.dumps({"message": message})
        for var, value in (
            ("$context.error.messageString", json.dumps(message)),
            ("$context.error.message", message),
            ("$context.error.responseType", response_type),
            ("$context.error.statusCode", str(status)),
            ("$context.requestId", request_id),
            ("$context.path", f"/{self.stack.stage}{path}"),
        ):
            text = text.replace(var, value)
        headers: list[tuple[str, str]] = []
        for key, value in ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items():
            value = str(value)
            if value.startswith("'") and value.endswith("'"):
                headers.append((key, value[1:-1]))
            elif value == "context.requestId":
                headers.append((key, request_id))
        return status, headers, text.encode()
