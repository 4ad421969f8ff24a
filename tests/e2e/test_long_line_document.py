"""A 1 MB document on one line, without a sentence end or a space: it is chunked in linear time,
becomes ready (or fails for its size) within the ingest function's budget, and the API keeps
answering while it is ingested (ingest does not hold the API's invocation lock)."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.auth_helpers import new_user
from tests.knowledge_helpers import API, add_text, create_kb

READY_WITHIN_S = 60.0
"""Generous on a loaded 2-core machine; the ingest Lambda's own timeout is 120 s."""
HEALTH_WITHIN_S = 5.0


def test_a_one_megabyte_single_line_document_is_ingested_while_the_api_keeps_answering(api: Any) -> None:
    # Given a user with a knowledge base and a 1 MB line of mixed Chinese and Latin characters
    user = new_user(api)
    kb_id = create_kb(api, user, "long line")
    content = ("退货政策RETURNS" * 80_000)[:1_000_000]
    health: list[tuple[int, float]] = []  # (status, seconds) of each /health call
    done = threading.Event()

    def watch_health() -> None:
        while not done.is_set():
            started = time.monotonic()
            status_code = api.get(f"{API}/health").status_code
            health.append((status_code, time.monotonic() - started))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch_health, daemon=True)
    watcher.start()
    try:
        # When it is added as a text document
        document_id = add_text(api, user, kb_id, "One long line", content)
        deadline = time.monotonic() + READY_WITHIN_S
        status = "pending"
        while time.monotonic() < deadline:
            status = api.get(f"{API}/knowledge/{kb_id}/documents/{document_id}", headers=user.headers).json()["status"]
            if status in ("ready", "failed"):
                break
            time.sleep(0.5)
    finally:
        done.set()
        watcher.join(timeout=HEALTH_WITHIN_S + 5)

    # Then it settles in time, and /health answered promptly the whole time (no call left hanging)
    assert status in ("ready", "failed"), f"still {status} after {READY_WITHIN_S} s"
    assert not watcher.is_alive(), "a /health call was still waiting when the document settled"
    assert health and all(code == 200 for code, _ in health), health
    assert max(seconds for _, seconds in health) < HEALTH_WITHIN_S, health
