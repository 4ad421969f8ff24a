"""Helpers for the chat tests: users in the database, API Gateway events for the chat handler,
the chat function pointed at the local Zhipu fake."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.fakes.zhipu_fake import ZhipuFake
from tests.support.events import rest_event as support_rest_event
from tests.support.lambda_context import Reply, lambda_context
from tests.support.users import Principal
from tests.support.users import insert_user as support_insert_user

CHAT_EVENT = Path(__file__).parent / "events" / "apigw_rest_post_chat.json"


def insert_user(db: Any, *, tier: str = "free", role: str = "user") -> Principal:
    """A user row (the authorizer trusts the database's role and tier)."""
    return support_insert_user(db, tier=tier, role=role, prefix="chat")


def rest_event(
    method: str,
    path: str,
    *,
    user: Principal | None,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A REST proxy event like API Gateway sends after the authorizer (tests/support/events.py)."""
    return support_rest_event(method, path, authorizer=user.authorizer if user else None, body=body, query=query)


def invoke(event: dict[str, Any], *, timeout_s: int = 29) -> Reply:
    """Call the chat function's handler as Lambda would, with a context of ``timeout_s`` seconds."""
    from chat_app.handler import lambda_handler

    return Reply(lambda_handler(event, lambda_context("chat", timeout_s=timeout_s, memory_mb=2048)))


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
