"""Helpers for config tests: API Gateway REST proxy events for the config handler.

resp = invoke_config(platform, "PUT", "/configs/ai.default_model", body={...}, role="admin")
resp.status, resp.json, resp.headers
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tests.conftest import load_event

API = "/api/v1"


def seed_user(role: str = "user", tier: str = "free") -> str:
    """A row in ``users`` (handlers check the authorizer's user still exists and is active); its id."""
    import os

    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute(
            """INSERT INTO users (email, password_hash, role, tier) VALUES (%s, 'not-a-hash', %s, %s)
               RETURNING id::text""",
            (f"config-{uuid.uuid4().hex[:12]}@example.com", role, tier),
        ).fetchone()
    assert row is not None
    return str(row[0])


@lru_cache(maxsize=1)
def admin_id() -> str:
    """The admin that config events act as unless told otherwise."""
    return seed_user("admin")


@lru_cache(maxsize=1)
def member_id() -> str:
    """A plain user."""
    return seed_user("user")


_ADMIN = object()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def config_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    user_id: Any = _ADMIN,
    role: str = "admin",
    tier: str = "free",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST proxy event like API Gateway sends for ``method /api/v1<path>`` (authorizer context set)."""
    event = copy.deepcopy(load_event("apigw_rest_put_config.json"))
    full = API + path
    sub = path.removeprefix("/configs").lstrip("/")
    if path == "/configs/public":
        resource, params = "/api/v1/configs/public", None
    elif sub:
        resource, params = "/api/v1/configs/{proxy+}", {"proxy": sub}
    else:
        resource, params = "/api/v1/configs", None
    hdrs = {k: v for k, v in event["headers"].items() if k not in ("If-Match", "Authorization")}
    hdrs.update(headers or {})
    event.update(
        resource=resource,
        path=full,
        httpMethod=method,
        headers=hdrs,
        multiValueHeaders={k: [v] for k, v in hdrs.items()},
        pathParameters=params,
        queryStringParameters=query or None,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        body=None if body is None else json.dumps(body),
    )
    if user_id is _ADMIN:
        user_id = admin_id()
    rc = event["requestContext"]
    rc.update(resourcePath=resource, httpMethod=method, path="/dev" + full, requestId=str(uuid.uuid4()))
    if user_id is None:
        rc.pop("authorizer", None)
    else:
        rc["authorizer"] = {
            "user_id": user_id,
            "role": role,
            "tier": tier,
            "auth_method": "jwt",
            "principalId": user_id,
        }
    return event


def invoke_config(platform: Any, method: str, path: str, **kw: Any) -> Reply:
    """Invoke ``config_app.handler.lambda_handler`` with a real REST proxy event."""
    from claw_local.lambda_runtime import LambdaContext
    from config_app.handler import lambda_handler

    context = LambdaContext(
        "claw-ai-test-config",
        512,
        "arn:aws:lambda:us-east-1:123456789012:function:claw-ai-test-config",
        str(uuid.uuid4()),
        timeout_s=30,
    )
    result = lambda_handler(config_event(method, path, **kw), context)
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for k, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), values[0])
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):  # Mangum base64-encodes types it does not know as text (problem+json)
        body = base64.b64decode(body).decode()
    return Reply(int(result["statusCode"]), headers, body)
