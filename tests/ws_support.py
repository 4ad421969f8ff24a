"""Helpers for the WebSocket streaming tests: URLs of the local WebSocket API, reading the
frames of one answer, a recording stand-in for the management API, and the function's logs."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

API = "/api/v1"
TERMINAL_FRAMES = ("done", "error")


def ws_url(platform: Any, token: str | None = None) -> str:
    """``ws://127.0.0.1:<port>/ws`` of the platform, with ``?token=`` when given."""
    base = platform.gateway_url.replace("http://", "ws://", 1) + "/ws"
    return base if token is None else f"{base}?token={quote(token, safe='')}"


def receive_answer(ws: Any, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The frames of one answer, up to and including its ``done`` or ``error`` frame."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(ws.recv(timeout=timeout_s))
        frames.append(frame)
        if frame["type"] in TERMINAL_FRAMES:
            return frames


def text_of(frames: list[dict[str, Any]]) -> str:
    """The answer text: the ``delta`` frames concatenated."""
    return "".join(f["text"] for f in frames if f["type"] == "delta")


def create_conversation(api: Any, user: Any, **fields: Any) -> dict[str, Any]:
    resp = api.post(f"{API}/conversations", json={"title": "Streaming", **fields}, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def messages_of(api: Any, user: Any, conversation_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"{API}/conversations/{conversation_id}/messages", headers=user.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def function_log_records() -> Iterator[list[logging.LogRecord]]:
    """Warnings and errors the functions log (the Powertools logger) and the local runtime logs
    (``claw_local``, e.g. "WebSocket integration … failed") while the block runs."""
    from claw_common.observability import logger

    handler = _Records()
    targets = [logging.getLogger(logger.name), logging.getLogger("claw_local")]
    for target in targets:
        target.addHandler(handler)
    try:
        yield handler.records
    finally:
        for target in targets:
            target.removeHandler(handler)


# --------------------------------------------------------------------------- management API stand-in


@dataclass
class ManagementApi:
    """An HTTP server answering ``POST /{stage}/@connections/{id}`` like API Gateway's management API.

    Frames posted to a connection are recorded in ``frames[connection_id]``; connections in
    ``gone`` answer 410 ``GoneException``, after ``gone_after[connection_id]`` frames if set.
    """

    stage: str = "test"
    frames: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    gone_after: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prefix = f"/{owner.stage}/@connections/"
                if not self.path.startswith(prefix):
                    self._answer(404, b'{"message":"Not Found"}')
                    return
                connection_id = unquote(self.path[len(prefix) :])
                posted = owner.frames.setdefault(connection_id, [])
                limit = owner.gone_after.get(connection_id)
                if connection_id in owner.gone or (limit is not None and len(posted) >= limit):
                    owner.refused += 1
                    self._answer(410, b'{"message":"Gone"}', error_type="GoneException")
                    return
                posted.append(json.loads(body))
                self._answer(200, b"{}")

            def _answer(self, status: int, body: bytes, error_type: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.stage}"

    def __enter__(self) -> ManagementApi:
        from claw_common.settings import get_settings

        self._thread.start()
        self._saved = os.environ.get("WEBSOCKET_MANAGEMENT_URL")
        os.environ["WEBSOCKET_MANAGEMENT_URL"] = self.url
        get_settings.cache_clear()
        return self

    def __exit__(self, *exc: object) -> None:
        from claw_common.settings import get_settings

        if self._saved is None:
            os.environ.pop("WEBSOCKET_MANAGEMENT_URL", None)
        else:
            os.environ["WEBSOCKET_MANAGEMENT_URL"] = self._saved
        get_settings.cache_clear()
        self._server.shutdown()
        self._server.server_close()
