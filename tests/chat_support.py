"""Helpers for the chat tests: users in the database, API Gateway events for the chat handler,
the chat function pointed at the local Zhipu fake."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.zhipu_fake import ZhipuFake

CHAT_EVENT = Path(__file__).parent / "events" / "apigw_rest_post_chat.json"


@dataclass(frozen=True)
class ChatUser:
    """A user row plus the authorizer context API Gateway would pass for it."""

    id: str
    role: str = "user"
    tier: str = "free"

    @property
    def authorizer(self) -> dict[str, Any]:
        return {"user_id": self.id, "role": self.role, "tier": self.tier, "auth_method": "jwt", "principalId": self.id}


def insert_user(db: Any, *, tier: str = "free", role: str = "user") -> ChatUser:
    """A user row (the authorizer trusts the database's role and tier)."""
    row = db.execute(
        "INSERT INTO users (email, password_hash, role, tier) VALUES (%s, %s, %s, %s) RETURNING id::text AS id",
        (f"chat-{uuid.uuid4().hex[:12]}@example.com", "not-a-login-hash", role, tier),
    ).fetchone()
    return ChatUser(row["id"], role, tier)


def _resource(path: str) -> tuple[str, dict[str, str] | None]:
    for base in ("/api/v1/conversations", "/api/v1/knowledge"):
        if path.startswith(base + "/"):
            return base + "/{proxy+}", {"proxy": path[len(base) + 1 :]}
    return path, None


def rest_event(
    method: str,
    path: str,
    *,
    user: ChatUser | None,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST proxy event like API Gateway sends after the authorizer, from the canonical chat event."""
    event = json.loads(CHAT_EVENT.read_text())
    resource, path_params = _resource(path)
    event["resource"] = resource
    event["path"] = path
    event["httpMethod"] = method
    event["pathParameters"] = path_params
    event["queryStringParameters"] = dict(query) if query else None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["body"] = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    context = event["requestContext"]
    context.update({"resourcePath": resource, "httpMethod": method, "path": f"/{context['stage']}{path}"})
    context["requestId"] = str(uuid.uuid4())
    # The local gateway's clients are on loopback, which keeps no IP bucket in the test stage:
    # handler tests must not drain the per-IP limit that every event would otherwise share.
    context["identity"]["sourceIp"] = "127.0.0.1"
    if user is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = user.authorizer
    return event


class Reply:
    """A Lambda proxy response, read like an HTTP response."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.status_code = raw["statusCode"]
        headers = dict(raw.get("headers") or {})
        for name, values in (raw.get("multiValueHeaders") or {}).items():
            headers[name] = values[-1]
        self.headers = {k.lower(): v for k, v in headers.items()}
        body = raw.get("body") or ""
        self.text = base64.b64decode(body).decode() if raw.get("isBase64Encoded") else body

    def json(self) -> Any:
        return json.loads(self.text)


def invoke(event: dict[str, Any], *, timeout_s: int = 29) -> Reply:
    """Call the chat function's handler as Lambda would, with a context of ``timeout_s`` seconds."""
    from chat_app.handler import lambda_handler
    from claw_local.lambda_runtime import LambdaContext

    context = LambdaContext(
        function_name="claw-ai-test-chat",
        memory_limit_in_mb=2048,
        invoked_function_arn="arn:aws:lambda:us-east-1:000000000000:function:claw-ai-test-chat",
        aws_request_id=str(uuid.uuid4()),
        timeout_s=timeout_s,
    )
    return Reply(lambda_handler(event, context))


@contextmanager
def chat_uses_zhipu_fake() -> Iterator[ZhipuFake]:
    """Run a Zhipu fake and point the chat function at it (settings from the environment);
    afterwards the offline provider is back for every other test."""
    from claw_common.settings import get_settings

    saved = {name: os.environ.get(name) for name in ("ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL")}
    with ZhipuFake() as fake:
        os.environ["ZHIPUAI_API_KEY"] = fake.api_key
        os.environ["ZHIPUAI_BASE_URL"] = fake.base_url
        get_settings.cache_clear()
        try:
            yield fake
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            get_settings.cache_clear()


@contextmanager
def config_value(db: Any, key: str, value: Any) -> Iterator[None]:
    """Set a runtime config value for the duration of a block (as the config service stores it)."""
    from psycopg.types.json import Jsonb

    from claw_common.config.reader import drop_caches

    before = db.execute("SELECT * FROM configs WHERE key = %s", (key,)).fetchone()
    db.execute(
        """INSERT INTO configs (key, value, version, updated_by) VALUES (%s, %s, 1, 'chat-tests')
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = configs.version + 1,
                                         deleted_at = NULL""",
        (key, Jsonb(value)),
    )
    drop_caches()
    try:
        yield
    finally:
        if before is None:
            db.execute("DELETE FROM configs WHERE key = %s", (key,))
        else:
            db.execute(
                "UPDATE configs SET value = %s, version = version + 1, deleted_at = %s WHERE key = %s",
                (Jsonb(before["value"]), before["deleted_at"], key),
            )
        drop_caches()
