"""The AWS Parameters and Secrets Lambda Extension's HTTP API, locally, answering from the emulator.

What a function sees of the extension: ``GET /secretsmanager/get?secretId=...`` on its port,
the ``X-Aws-Parameters-Secrets-Token`` header equal to the environment's session token (else
401), the secret as Secrets Manager's ``GetSecretValue`` returns it (JSON), a 400 for an
unknown secret. Behind it is the platform's own Secrets Manager (the emulator), read with
boto3 as the extension reads the real one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@contextmanager
def secrets_extension(secretsmanager: Any, session_token: str) -> Iterator[tuple[int, list[str]]]:
    """Serve the extension on a free loopback port: yields (port, the secret ids asked for)."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if self.headers.get("X-Aws-Parameters-Secrets-Token") != session_token:
                return self._answer(401, {"message": "missing or wrong session token"})
            if parts.path != "/secretsmanager/get":
                return self._answer(404, {"message": "not found"})
            secret_id = (parse_qs(parts.query).get("secretId") or [""])[0]
            asked.append(secret_id)
            try:
                value = secretsmanager.get_secret_value(SecretId=secret_id)
            except Exception as exc:
                return self._answer(400, {"message": type(exc).__name__})
            return self._answer(200, {k: v for k, v in value.items() if k != "ResponseMetadata"})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()
