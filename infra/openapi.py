"""One OpenAPI document for the whole REST API, merged from the functions' own documents.

Every HTTP function declares its routes with FastAPI and so has its own OpenAPI document; no
function may import another, so the merge happens here, at build time, and the result is
committed as ``functions/config/config_app/openapi.json`` (the config function serves it at
``GET /api/v1/openapi.json`` with Swagger UI at ``GET /api/v1/docs``, on AWS as locally).
``tests/unit/test_openapi_document.py`` fails when the committed file is stale.

What the merge adds to the functions' documents: the security schemes the authorizer accepts
(bearer token, API key) and which operations need them (read from the template: routes with
``Auth: {Authorizer: NONE}`` are public), the problem+json error responses every operation can
give (the gateway's 401/403/413/429, the functions' 422/500), ``servers``, and the WebSocket
API in the description.

    python infra/openapi.py            # rewrite the committed document
    python infra/openapi.py --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "functions" / "config" / "config_app" / "openapi.json"
# Each HTTP function: its code folder and the module holding its FastAPI ``app``.
FUNCTIONS = {
    "auth": ("authorizer", "authorizer_app.handler"),
    "chat": ("chat", "chat_app.handler"),
    "knowledge": ("knowledge", "knowledge_app.handler"),
    "config": ("config", "config_app.handler"),
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
PROBLEM_JSON = "application/problem+json"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details: every error of the API has this shape.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem.", "examples": ["about:blank"]},
        "title": {"type": "string", "description": "Short summary of the kind of problem."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong with this request, for a person."},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": "string", "description": "The request id (also the X-Request-Id header)."},
        "errors": {
            "type": "array",
            "description": "Field errors of a 422: where (loc), what (msg) and the error type.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}

COMMON_ERRORS = {
    "413": "The body is larger than the API accepts (6 MB through the gateway): upload files through "
    "`POST /api/v1/knowledge/{kb_id}/documents/upload-url`.",
    "422": "The request is not valid (`errors` lists the fields).",
    "429": "Too many requests: see the RateLimit-* and Retry-After headers (docs/rate-limits.md).",
    "500": "An unexpected error; the X-Request-Id header names the request in the logs.",
    "503": "A dependency (database, cache, model provider) is unavailable; retry shortly.",
}
AUTH_ERRORS = {
    "401": "No valid credentials: send `Authorization: Bearer <access token>` or an API key.",
    "403": "The credentials are valid but not for this resource (for example an admin route).",
}

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT or API key",
        "description": "An access token from `POST /api/v1/auth/login` (or an API key) as "
        "`Authorization: Bearer <token>`. In Swagger UI paste the token alone.",
    },
    "apiKeyAuth": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An API key from `POST /api/v1/auth/api-keys`, sent as `Authorization: ApiKey <key>` "
        "(type `ApiKey ` before the key here). The authorizer caches its verdict under the Authorization "
        "value, so every credential travels in that one header.",
    },
}

SERVERS = [
    {"url": "http://127.0.0.1:3000", "description": "make dev (the local platform)"},
    {
        "url": "https://{api_id}.execute-api.{region}.amazonaws.com/{stage}",
        "description": "A deployed stack (ApiUrl in the stack's outputs)",
        "variables": {
            "api_id": {"default": "abc123", "description": "The REST API id."},
            "region": {"default": "us-east-1"},
            "stage": {"default": "dev", "enum": ["dev", "prod"]},
        },
    },
]

DESCRIPTION = """\
The REST API of CLAW.AI: accounts and API keys, conversations and answers with sources,
knowledge bases and their documents, runtime configuration, usage and rate limits.

**Authorize**: sign in with `POST /api/v1/auth/login`, copy `access_token`, press *Authorize*
and paste it under `bearerAuth`. Every error is `application/problem+json` (schema `Problem`)
and every response carries `X-Request-Id`.

## WebSocket API (streaming answers)

A separate API Gateway WebSocket API (`WebSocketUrl` in the stack outputs; locally
`ws://127.0.0.1:3000/ws`). Connect with `?token=<access token or API key>`. Send one JSON text
frame per question:

```json
{"action": "chat", "conversation_id": "<id>", "message": "...", "knowledge_base_id": "<optional>", "top_k": 5}
```

The answer comes back as frames: `{"type": "delta", "text": "..."}` (repeated), then
`{"type": "sources", "sources": [...]}` (the same objects as the REST chat answer's sources), then
`{"type": "done", "message_id": ..., "usage": {...}, ...}`. A failure is one
`{"type": "error", "status": ..., "problem_type": ..., "title": ..., "detail": ...}` frame with the
fields of the REST problem+json. Details: docs/streaming.md.
"""


def _load_apps() -> dict[str, Any]:
    """Each function's FastAPI app (imported as the local platform does: its folder on sys.path)."""
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ClawAI")
    for layer in ("common", "ai"):
        path = str(ROOT / "layers" / layer)
        if path not in sys.path:
            sys.path.insert(0, path)
    import importlib

    apps = {}
    for name, (folder, module) in FUNCTIONS.items():
        path = str(ROOT / "functions" / folder)
        if path not in sys.path:
            sys.path.insert(0, path)
        apps[name] = importlib.import_module(module).app
    return apps


def _template_routes() -> list[Any]:
    sys.path.insert(0, str(ROOT / "local"))
    from claw_local.template import load_local_stack

    return load_local_stack().routes


def _is_public(routes: list[Any], path: str, method: str) -> bool:
    from claw_local.gateway import match_route

    match = match_route(routes, path, method.upper())
    return match is not None and not match.route.authorized


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _rename_clashing_schemas(document: dict[str, Any], schemas: dict[str, Any], origin: str) -> dict[str, Any]:
    """Two functions may each have a model of the same name (chat's and knowledge's ``SourceOut``):
    the later one's schema becomes ``<Origin><Name>`` and its references follow."""
    own = (document.get("components") or {}).get("schemas") or {}
    clashes = [name for name, value in own.items() if name in schemas and schemas[name] != value]
    if not clashes:
        return document
    text = json.dumps(document)
    for name in clashes:
        text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{origin.title()}{name}"')
    renamed: dict[str, Any] = json.loads(text)
    own = renamed["components"]["schemas"]
    for name in clashes:
        own[f"{origin.title()}{name}"] = own.pop(name)
    return renamed


def _merge_components(target: dict[str, Any], source: dict[str, Any]) -> None:
    for kind, items in (source or {}).items():
        target.setdefault(kind, {}).update(items)


def _function_document_paths(name: str) -> dict[str, Any]:
    return {
        f"/api/v1/openapi/{name}.json": {
            "get": {
                "tags": ["documentation"],
                "summary": f"The {name} function's own OpenAPI document",
                "operationId": f"openapi_{name}",
                "responses": {"200": {"description": "An OpenAPI document.", "content": {"application/json": {}}}},
            }
        }
    }


def build() -> dict[str, Any]:
    """The merged document."""
    apps = _load_apps()
    routes = _template_routes()
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {}
    tags: dict[str, dict[str, Any]] = {}
    for name, app in apps.items():
        document = _rename_clashing_schemas(copy.deepcopy(app.openapi()), components.get("schemas", {}), name)
        for path, item in document.get("paths", {}).items():
            if path in paths:
                raise SystemExit(f"{path} is declared by two functions")
            paths[path] = item
        paths.update(_function_document_paths(name))
        _merge_components(components, document.get("components") or {})
        for tag in document.get("tags") or []:
            tags.setdefault(tag["name"], tag)
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    # FastAPI's default 422 models; every 422 of this API is a Problem.
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)

    for path, item in paths.items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            public = _is_public(routes, path, method)
            operation["security"] = [] if public else [{"bearerAuth": []}, {"apiKeyAuth": []}]
            responses = operation.setdefault("responses", {})
            errors = dict(COMMON_ERRORS) if public else {**AUTH_ERRORS, **COMMON_ERRORS}
            for status, description in errors.items():
                if status not in responses:
                    responses[status] = _problem_response(description)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    responses[status] = {**response, **_problem_response(response.get("description") or "")}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "CLAW.AI API", "version": "1.0.0", "description": DESCRIPTION},
        "servers": SERVERS,
        "security": [{"bearerAuth": []}, {"apiKeyAuth": []}],
        "tags": [*tags.values()],
        "paths": dict(sorted(paths.items())),
        "components": components,
    }
    return json.loads(json.dumps(document, sort_keys=False))


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed document is stale")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(document_paths(text))} paths)")
    return 0


def document_paths(text: str) -> list[str]:
    return list(json.loads(text)["paths"])


if __name__ == "__main__":
    raise SystemExit(main())
