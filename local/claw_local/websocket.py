"""The template's WebSocket API on the local gateway (``ws://127.0.0.1:3000/ws``).

Connections go through the REQUEST authorizer of the ``$connect`` route (identity sources
checked first, as API Gateway does) and then the ``$connect`` integration; messages are
routed by the route selection expression (``$request.body.action``, else ``$default``);
closing invokes ``$disconnect``. Functions push frames back through a local management
API (``POST /{stage}/@connections/{id}``) that answers 410 Gone for closed connections, so
the same ``post_to_connection`` code path runs as on AWS.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio

from claw_local.gateway import API_ID, _policy_allows
from claw_local.lambda_runtime import LocalLambdas
from claw_local.template import LOCAL_ACCOUNT_ID, LocalStack

log = logging.getLogger("claw_local")

WS_PATH = "/ws"
MAX_FRAME = 128 * 1024  # API Gateway's WebSocket frame limit is 32 KB per frame, 128 KB per message


@dataclass
class Connection:
    connection_id: str
    send: Any
    loop: asyncio.AbstractEventLoop
    authorizer: dict[str, Any]
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)
    open: bool = True


class LocalWebSocketApi:
    """ASGI handler for the WebSocket API and its management endpoint."""

    def __init__(self, stack: LocalStack, lambdas: LocalLambdas, platform: Any = None) -> None:
        assert stack.websocket is not None
        self.stack = stack
        self.spec = stack.websocket
        self.lambdas = lambdas
        self.connections: dict[str, Connection] = {}
        # The event loop keeps only weak references to tasks: hold the message invocations here
        # until they finish, or one could be garbage-collected mid-answer.
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ events
    def _context(self, route_key: str, event_type: str, conn_id: str, ip: str, ua: str, domain: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.stack.stage,
            "connectedAt": int(time.time() * 1000),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": ip, "userAgent": ua},
            "requestId": str(uuid.uuid4()),
            "domainName": domain,
            "connectionId": conn_id,
            "apiId": API_ID,
        }

    def _connect(self, scope: dict[str, Any], conn_id: str) -> tuple[bool, dict[str, Any]]:
        """Run the $connect authorizer and integration; (accepted, authorizer context)."""
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for k, v in scope.get("headers") or []:
            key = "-".join(p.capitalize() for p in k.decode("latin-1").split("-"))
            headers[key] = v.decode("latin-1")
            multi.setdefault(key, []).append(v.decode("latin-1"))
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        query = dict(pairs)
        mquery: dict[str, list[str]] = {}
        for k, v in pairs:
            mquery.setdefault(k, []).append(v)
        ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        ua = headers.get("User-Agent", "")
        domain = headers.get("Host", "127.0.0.1")
        route = self.spec.routes.get("$connect")
        context = self._context("$connect", "CONNECT", conn_id, ip, ua, domain)
        event: dict[str, Any] = {
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": mquery or None,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        authorizer: dict[str, Any] = {}
        if route and route.authorizer:
            for source in route.identity_sources:
                kind, _, name = source.removeprefix("route.request.").partition(".")
                value = (
                    query.get(name)
                    if kind == "querystring"
                    else headers.get("-".join(p.capitalize() for p in name.split("-")))
                )
                if not value:
                    return False, {}
            method_arn = (
                f"arn:aws:execute-api:{self.stack.region}:{LOCAL_ACCOUNT_ID}:{API_ID}/{self.stack.stage}/$connect"
            )
            try:
                result = self.lambdas[route.authorizer].invoke(
                    {
                        "type": "REQUEST",
                        "methodArn": method_arn,
                        **{k: v for k, v in event.items() if k != "isBase64Encoded"},
                    }
                )
            except Exception:  # noqa: BLE001 - "Unauthorized" or a failing authorizer: refused either way
                return False, {}
            if not isinstance(result, dict) or not _policy_allows(result.get("policyDocument") or {}, method_arn):
                return False, {}
            authorizer = {
                "principalId": result.get("principalId"),
                **{k: v for k, v in (result.get("context") or {}).items() if isinstance(v, str | int | float | bool)},
            }
            context["authorizer"] = authorizer
        if route:
            response = self._invoke(route.function, event)
            if not isinstance(response, dict) or int(response.get("statusCode", 500)) != 200:
                return False, {}
        return True, authorizer

    def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        try:
            return self.lambdas[function].invoke(event)
        except Exception:
            log.exception("WebSocket integration %s failed", function)
            return None

    def _route_key(self, text: str) -> str:
        field_name = self.spec.route_selection.removeprefix("$request.body.")
        try:
            body = json.loads(text)
            key = body.get(field_name) if isinstance(body, dict) else None
        except ValueError:
            key = None
        if isinstance(key, str) and key in self.spec.routes:
            return key
        return "$default"

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if scope.get("path") not in (WS_PATH, f"/{self.stack.stage}"):
            await send({"type": "websocket.close", "code": 1008})
            return
        conn_id = uuid.uuid4().hex[:16] + "="
        accepted, authorizer = await anyio.to_thread.run_sync(self._connect, scope, conn_id)
        if not accepted:
            # Closing before accepting makes the server answer the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        conn = Connection(conn_id, send, asyncio.get_running_loop(), authorizer, ip, headers.get("user-agent", ""))
        self.connections[conn_id] = conn
        domain = headers.get("host", "127.0.0.1")
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", "replace")
                conn.last_active_at = time.time()
                if text is None or len(text.encode()) > MAX_FRAME:
                    continue
                route_key = self._route_key(text)
                route = self.spec.routes.get(route_key)
                if route is None:
                    continue
                context = self._context(route_key, "MESSAGE", conn_id, conn.source_ip, conn.user_agent, domain)
                context["messageId"] = uuid.uuid4().hex
                if authorizer:
                    context["authorizer"] = authorizer
                event = {"requestContext": context, "body": text, "isBase64Encoded": False}
                # Like API Gateway, don't wait for one message's integration before reading the next.
                task = asyncio.get_running_loop().create_task(
                    anyio.to_thread.run_sync(self._invoke, route.function, event)
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            conn.open = False
            self.connections.pop(conn_id, None)
            route = self.spec.routes.get("$disconnect")
            if route:
                context = self._context("$disconnect", "DISCONNECT", conn_id, conn.source_ip, conn.user_agent, domain)
                if authorizer:
                    context["authorizer"] = authorizer
                event = {"requestContext": context, "isBase64Encoded": False}
                await anyio.to_thread.run_sync(self._invoke, route.function, event)

    # ------------------------------------------------------------------ management API
    def is_management_path(self, path: str) -> bool:
        return "/@connections/" in path

    async def management(self, method: str, path: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """``POST|GET|DELETE /{stage}/@connections/{id}`` as the API Gateway management API answers."""
        conn_id = path.split("/@connections/", 1)[1].strip("/")
        conn = self.connections.get(conn_id)
        if conn is None or not conn.open:
            return (
                410,
                [("Content-Type", "application/json"), ("x-amzn-ErrorType", "GoneException")],
                b'{"message":"Gone"}',
            )
        if method == "POST":
            if len(body) > MAX_FRAME:
                return (
                    413,
                    [("Content-Type", "application/json"), ("x-amzn-ErrorType", "PayloadTooLargeException")],
                    b"{}",
                )
            try:
                await conn.send({"type": "websocket.send", "text": body.decode("utf-8")})
            except Exception:  # noqa: BLE001 - the client went away between the check and the send
                conn.open = False
                return 410, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "GoneException")], b"{}"
            return 200, [("Content-Type", "application/json")], b"{}"
        if method == "DELETE":
            conn.open = False
            await conn.send({"type": "websocket.close", "code": 1000})
            return 204, [], b""
        info = {
            "connectedAt": datetime.fromtimestamp(conn.connected_at, UTC).isoformat(),
            "lastActiveAt": datetime.fromtimestamp(conn.last_active_at, UTC).isoformat(),
            "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        }
        return 200, [("Content-Type", "application/json")], json.dumps(info).encode()
