"""The work inside one warm chat request, counted (not timed): SQL statements, pool checkouts,
Redis round trips, tokenizer calls, config deep copies. Counts do not vary with the load of a
shared machine, so they show what the warm path costs in a way timings there cannot."""

from __future__ import annotations

import copy
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any


def _patch(obj: Any, name: str, counter: Counter[str], key: str, undo: list[Callable[[], None]]) -> None:
    original = getattr(obj, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counter[key] += 1
        return original(*args, **kwargs)

    setattr(obj, name, counted)
    undo.append(lambda: setattr(obj, name, original))


def count_work(call: Callable[[], Any]) -> Counter[str]:
    """Run ``call`` once with the counters installed."""
    import psycopg
    import psycopg_pool
    import redis
    import redis.client

    import claw_ai.tokens as tokens

    counter: Counter[str] = Counter()
    undo: list[Callable[[], None]] = []
    _patch(psycopg.Cursor, "execute", counter, "SQL statements", undo)
    _patch(psycopg.Cursor, "copy", counter, "SQL statements", undo)
    _patch(psycopg_pool.ConnectionPool, "getconn", counter, "pool checkouts", undo)
    _patch(redis.Redis, "execute_command", counter, "Redis round trips", undo)
    _patch(redis.client.Pipeline, "execute", counter, "Redis round trips", undo)
    # Every module that imported count_tokens by name.
    original_count = tokens.count_tokens
    for module in list(sys.modules.values()):
        if getattr(module, "count_tokens", None) is original_count:
            _patch(module, "count_tokens", counter, "tokenizer calls", undo)
    _patch(copy, "deepcopy", counter, "deep copies", undo)
    try:
        call()
    finally:
        for step in reversed(undo):
            step()
    # A pipeline's own execute_command only queues; the round trip is its execute().
    return counter
