"""The web console and ``widget.js`` on the local gateway, for every path outside ``/api``.

What S3 + CloudFront do on AWS (the WebDistribution of infra/template.yaml), done here for ``make dev``:
``/config.json`` gives the app its API and WebSocket URLs at run time (derived from the
request's Host, so any port works); ``/assets/*`` are content-hashed, so cached forever;
``index.html`` is revalidated on every load; ``/widget.js`` keeps a stable URL (customers embed
it) and a short cache; any other path without a file extension is the single-page app's own
route and gets ``index.html``.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
from pathlib import Path
from typing import Any

from claw_local.template import ROOT

DIST = Path(os.environ.get("CLAW_WEB_DIST") or ROOT / "web" / "dist")
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
SHORT = "public, max-age=300"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
]
NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>CLAW.AI</title>"
    "<h1>The console is not built yet</h1>"
    "<p>Run <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> (or <code>make dev</code>), "
    "then reload. The API is at <a href=/api/v1/health>/api/v1/health</a>.</p>"
)

Response = tuple[int, list[tuple[str, str]], bytes]


class StaticSite:
    """Serves ``web/dist``: the console under ``console/`` and ``widget.js``."""

    def __init__(self, dist: Path = DIST) -> None:
        self.dist = dist
        self.console = dist / "console"

    @staticmethod
    def serves(path: str) -> bool:
        return not (path == "/api" or path.startswith("/api/"))

    def respond(self, scope: dict[str, Any]) -> Response:
        method = scope.get("method", "GET").upper()
        path = scope.get("path") or "/"
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        if method not in ("GET", "HEAD"):
            return self._plain(405, "Method Not Allowed", [("Allow", "GET, HEAD")])
        status, out, body = self._route(path, headers)
        etag = next((v for k, v in out if k == "ETag"), None)
        if status == 200 and etag and headers.get("if-none-match") == etag:
            return 304, out, b""
        out.append(("Content-Length", str(len(body))))
        return status, out, (b"" if method == "HEAD" else body)

    def _route(self, path: str, headers: dict[str, str]) -> Response:
        if path == "/config.json":
            return self._config(headers)
        if path == "/widget.js":
            return self._file(self.dist / "widget.js", SHORT, [("Access-Control-Allow-Origin", "*")])
        if path.startswith("/assets/"):
            return self._file(self._inside(self.console, path), IMMUTABLE)
        candidate = self._inside(self.console, path)
        if candidate is not None and candidate.is_file() and candidate.name != "index.html":
            return self._file(candidate, SHORT)
        if "." in path.rsplit("/", 1)[-1]:
            return self._plain(404, "Not Found")
        # A route of the single-page app (/, /knowledge/…, /chat/…): the app decides.
        index = self.console / "index.html"
        if not index.is_file():
            return 503, [("Content-Type", TYPES[".html"]), ("Cache-Control", NO_CACHE)], NOT_BUILT.encode()
        return self._file(index, NO_CACHE, [("X-Frame-Options", "DENY")])

    def _config(self, headers: dict[str, str]) -> Response:
        host = headers.get("host", "127.0.0.1:3000")
        secure = headers.get("x-forwarded-proto") == "https"
        config = {
            "apiBase": os.environ.get("CLAW_WEB_API_BASE", "/api/v1"),
            "wsUrl": os.environ.get("CLAW_WEB_WS_URL") or f"{'wss' if secure else 'ws'}://{host}/ws",
            "widgetUrl": f"{'https' if secure else 'http'}://{host}/widget.js",
        }
        return 200, [("Content-Type", TYPES[".json"]), ("Cache-Control", NO_CACHE)], json.dumps(config).encode()

    @staticmethod
    def _inside(base: Path, path: str) -> Path | None:
        try:
            candidate = (base / path.lstrip("/")).resolve()
        except (OSError, ValueError):
            return None
        return candidate if candidate.is_relative_to(base.resolve()) else None

    def _file(self, file: Path | None, cache: str, extra: list[tuple[str, str]] | None = None) -> Response:
        if file is None or not file.is_file():
            return self._plain(404, "Not Found")
        body = file.read_bytes()
        ctype = TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        out = [("Content-Type", ctype), ("Cache-Control", cache), ("ETag", etag), *SECURITY_HEADERS, *(extra or [])]
        return 200, out, body

    @staticmethod
    def _plain(status: int, text: str, extra: list[tuple[str, str]] | None = None) -> Response:
        return status, [("Content-Type", TYPES[".txt"]), ("Cache-Control", NO_CACHE), *(extra or [])], text.encode()
