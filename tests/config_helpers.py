"""Helpers for config tests: API Gateway REST proxy events for the config handler.

resp = invoke_config(platform, "PUT", "/configs/ai.default_model", body={...}, role="admin")
resp.status, resp.json(), resp.headers
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from tests.support.events import rest_event
from tests.support.lambda_context import Reply, lambda_context

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
    if user_id is _ADMIN:
        user_id = admin_id()
    authorizer = None if user_id is None else {"user_id": user_id, "role": role, "tier": tier}
    return rest_event(
        method,
        API + path,
        authorizer=authorizer,
        body=body,
        query=query,
        headers=headers,
        sample="apigw_rest_put_config.json",
    )


def invoke_config(platform: Any, method: str, path: str, **kw: Any) -> Reply:
    """Invoke ``config_app.handler.lambda_handler`` with a real REST proxy event."""
    from config_app.handler import lambda_handler

    return Reply(lambda_handler(config_event(method, path, **kw), lambda_context("config", timeout_s=30)))
