"""The API's documentation: one OpenAPI document for every function, and Swagger UI over it.

``openapi.json`` beside this module is merged at build time from the functions' own
documents by ``infra/openapi.py`` (functions cannot import each other, so no function could
merge at run time). Swagger UI's files come from the ``swagger-ui-bundle-v2`` package, so the
page loads nothing from the internet. Every URL in the page is relative, so the same page works
locally (``/api/v1/docs``) and behind an API Gateway stage (``/prod/api/v1/docs``).
"""

from __future__ import annotations

import json
import mimetypes
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from claw_common.errors import NotFound
from claw_common.http.app import api_router

router = api_router(tags=["documentation"])

DOCUMENT = Path(__file__).with_name("openapi.json")
# The Swagger UI files the page uses; nothing else of the package is served.
# (No favicon: a PNG would need API Gateway binary media types.)
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>CLAW.AI API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      tryItOutEnabled: false,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    });
  </script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _assets_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def _base_url(request: Request) -> str | None:
    """The URL this API is reached at, from API Gateway's request context (None if unknown)."""
    context = (request.scope.get("aws.event") or {}).get("requestContext") or {}
    domain = context.get("domainName") or request.headers.get("host")
    if not domain:
        return None
    if str(domain).endswith(".amazonaws.com") and context.get("stage"):
        return f"https://{domain}/{context['stage']}"
    scheme = request.headers.get("x-forwarded-proto") or ("http" if str(domain).startswith("127.") else "https")
    return f"{scheme}://{domain}"


@router.get(
    "/openapi.json",
    summary="The OpenAPI document of the whole API (every function), no auth",
    response_class=JSONResponse,
    responses={200: {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
)
def openapi_document(request: Request) -> JSONResponse:
    document = dict(_document())
    base = _base_url(request)
    if base:
        # The server the caller used comes first, so Swagger UI's "Try it out" calls it.
        known = [s for s in document.get("servers", []) if s.get("url") != base]
        document["servers"] = [{"url": base, "description": "this API"}, *known]
    return JSONResponse(document)


@router.get("/docs", summary="Swagger UI over the API's OpenAPI document, no auth", response_class=HTMLResponse)
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/docs/{asset:path}", summary="A Swagger UI file (CSS, JavaScript) of the docs page", response_model=None)
def docs_asset(asset: str, request: Request) -> Response:
    # ``/docs/`` with a trailing slash resolves the page's relative URLs one level deeper
    # (``docs/docs/…``, ``docs/openapi.json``): serve those the same.
    name = PurePosixPath(asset).name
    if name == "openapi.json":
        return openapi_document(request)
    if name not in ASSETS:
        raise NotFound("No such documentation file.")
    path = _assets_dir() / name
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(
        path.read_bytes(), media_type=media_type, headers={"Cache-Control": "public, max-age=86400, immutable"}
    )
