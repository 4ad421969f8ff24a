"""Log lines carry the API Gateway request id as correlation id and the caller's user id."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.chat_support import Reply, insert_user, rest_event


def _log_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith('{"level"'):
            lines.append(json.loads(line))
    return lines


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """What the Powertools logger writes (its handler is bound to the stdout of its import time)."""
    from claw_common.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]


def test_chat_logs_carry_correlation_and_user_ids_and_never_the_prompt(platform: Any, db: Any) -> None:
    user = insert_user(db)
    chat = platform.lambdas["ChatFunction"]
    conv = Reply(chat.invoke(rest_event("POST", "/api/v1/conversations", user=user, body={"title": "logs"}))).json()
    secret_question = "my account password is hunter2-0451, can you reset it?"
    event = rest_event("POST", f"/api/v1/conversations/{conv['id']}/chat", user=user, body={"message": secret_question})
    with captured_logs() as logs:
        assert Reply(chat.invoke(event)).status_code == 200
    out = logs.getvalue()
    lines = [line for line in _log_lines(out) if line.get("function_name") == chat.name]
    assert any(line["message"] == "chat answered" for line in lines)
    assert all(line.get("correlation_id") == event["requestContext"]["requestId"] for line in lines)
    assert all(line.get("user_id") == user.id for line in lines)
    assert "hunter2-0451" not in out
