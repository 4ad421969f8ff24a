"""A stand-in for an assistant's public routes (SPEC §6), to test the widget on its own.

It answers exactly the calls the widget makes: ``POST …/sessions``, ``POST …/chat`` (session
bearer), ``POST …/feedback``, with CORS for any origin, and a WebSocket that streams
``delta`` → ``sources`` → ``done`` frames like the platform's. It also serves ``widget.js`` and
a third-party host page (with hostile CSS) on another origin. Tests can revoke a session
token (the next call answers 401) or make the socket drop mid-answer.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from claw_local.services import free_port

ANSWER = "International orders take 7 to 14 days [1]. Returns are free within 30 days [2]."
SOURCES = [
    {
        "document_id": "d1",
        "title": "Shipping policy",
        "chunk_index": 0,
        "score": 0.81,
        "snippet": "International orders take 7 to 14 days.",
    },
    {
        "document_id": "d2",
        "title": "Returns",
        "chunk_index": 0,
        "score": 0.64,
        "snippet": "Return any unused item within 30 days.",
    },
]
NO_ANSWER = "Sorry, I can only answer questions about our shop. Please contact support@example.com."


class FakePublicApi:
    def __init__(self, widget_js: Path, public_id: str = "asst_demo") -> None:
        self.widget_js = widget_js
        self.public_id = public_id
        self.sessions: list[str] = []
        self.revoked: set[str] = set()
        self.feedback: list[dict[str, Any]] = []
        self.chats: list[tuple[str, str]] = []  # (transport, message)
        self.drop_next = False
        self.api_port = free_port()
        self.ws_port = free_port()
        self.host_port = free_port()
        self._servers: list[ThreadingHTTPServer] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_stop: asyncio.Event | None = None

    # ----------------------------------------------------------------- URLs
    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    def host_page(self, ws: str | None = None) -> str:
        query = f"?ws={ws}" if ws else ""
        return f"http://127.0.0.1:{self.host_port}/shop.html{query}"

    # ----------------------------------------------------------------- logic
    def new_session(self) -> dict[str, Any]:
        token = f"sess-{uuid.uuid4().hex}"
        self.sessions.append(token)
        return {
            "session_token": token,
            "expires_in": 900,
            "assistant": {
                "name": "Shop helper",
                "welcome_message": "Hi! Ask me about shipping and returns.",
                "suggested_questions": ["How long does shipping take?", "Can I return an item?"],
            },
        }

    def answer(self, message: str) -> tuple[str, list[dict[str, Any]], bool]:
        if "weather" in message.lower():
            return NO_ANSWER, [], True
        return ANSWER, SOURCES, False

    def valid(self, token: str | None) -> bool:
        return bool(token) and token in self.sessions and token not in self.revoked

    # ----------------------------------------------------------------- servers
    def start(self) -> FakePublicApi:
        fake = self

        class Api(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any = None, ctype: str = "application/json") -> None:
                data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
                self.send_response(status)
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
                self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_OPTIONS(self) -> None:
                self._send(204)

            def do_GET(self) -> None:
                if self.path == "/widget.js":
                    self._send(200, fake.widget_js.read_bytes(), "text/javascript")
                else:
                    self._send(404, {"title": "Not Found", "status": 404})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                prefix = f"/api/v1/public/assistants/{fake.public_id}"
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip() or None
                if self.path == f"{prefix}/sessions":
                    self._send(201, fake.new_session())
                elif self.path in (f"{prefix}/chat", f"{prefix}/feedback") and not fake.valid(token):
                    self._send(401, {"title": "Unauthorized", "status": 401, "detail": "The session has expired."})
                elif self.path == f"{prefix}/chat":
                    fake.chats.append(("http", body["message"]))
                    content, sources, no_answer = fake.answer(body["message"])
                    self._send(
                        200,
                        {
                            "message_id": f"m-{uuid.uuid4().hex[:8]}",
                            "content": content,
                            "sources": sources,
                            "no_answer": no_answer,
                        },
                    )
                elif self.path == f"{prefix}/feedback":
                    fake.feedback.append(body)
                    self._send(204)
                else:
                    self._send(404, {"title": "Not Found", "status": 404, "detail": "Assistant not found."})

        class Host(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                ws = query.get("ws", [fake.ws])[0]
                page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Example shop</title>
<style>
  /* A host page whose CSS would wreck an unprotected widget */
  * {{ font-family: serif !important; color: #b00 !important; }}
  button {{ background: lime !important; border: 5px dotted red !important; }}
  div {{ padding: 30px; }}
</style></head>
<body><h1>Example shop</h1><p>Welcome to our shop.</p>
<script src="http://127.0.0.1:{fake.api_port}/widget.js" data-assistant="{fake.public_id}"
  data-api="{fake.api}" data-ws="{ws}" data-lang="en"></script>
</body></html>"""
                data = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        for handler, port in ((Api, self.api_port), (Host, self.host_port)):
            server = ThreadingHTTPServer(("127.0.0.1", port), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        ready = threading.Event()
        threading.Thread(target=self._run_ws, args=(ready,), daemon=True).start()
        ready.wait(10)
        return self

    def _run_ws(self, ready: threading.Event) -> None:
        from websockets.asyncio.server import serve

        fake = self

        def process_request(conn: Any, request: Any) -> Any:
            # Refused during the handshake, as API Gateway's $connect authorizer does.
            token = parse_qs(urlparse(request.path).query).get("token", [None])[0]
            return None if fake.valid(token) else conn.respond(403, "Forbidden\n")

        async def handler(conn: Any) -> None:
            token = parse_qs(urlparse(conn.request.path).query).get("token", [None])[0]
            async for raw in conn:
                frame = json.loads(raw)
                message = frame.get("message", "")
                if not fake.valid(token):
                    await conn.send(
                        json.dumps(
                            {
                                "type": "error",
                                "status": 401,
                                "title": "Unauthorized",
                                "detail": "The session has expired.",
                            }
                        )
                    )
                    continue
                fake.chats.append(("ws", message))
                content, sources, no_answer = fake.answer(message)
                words = content.split(" ")
                for i in range(0, len(words), 3):
                    await conn.send(
                        json.dumps(
                            {"type": "delta", "text": " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "")}
                        )
                    )
                    await asyncio.sleep(0.15)
                    if fake.drop_next and i >= 3:
                        fake.drop_next = False
                        await conn.close()
                        return
                await conn.send(json.dumps({"type": "sources", "sources": sources}))
                await conn.send(
                    json.dumps(
                        {
                            "type": "done",
                            "message_id": f"m-{uuid.uuid4().hex[:8]}",
                            "no_answer": no_answer,
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2, "cost": 0},
                        }
                    )
                )

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._ws_stop = asyncio.Event()
            async with serve(handler, "127.0.0.1", self.ws_port, process_request=process_request):
                ready.set()
                await self._ws_stop.wait()

        asyncio.run(main())

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if self._loop and self._ws_stop:
            self._loop.call_soon_threadsafe(self._ws_stop.set)
