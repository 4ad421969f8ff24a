"""Client-side deadlines for PostgreSQL: a hung server costs seconds, never a hang.

``statement_timeout`` is enforced by the server, so it cannot help when the server itself
stops answering (a stopped process, a frozen host): the kernel still accepts the bytes, and
TCP keepalives and ``tcp_user_timeout`` see a healthy peer. :class:`DeadlineConnection` puts a
deadline on every round trip instead (each execute, fetch, copy and commit): past it the
connection is closed and :class:`DatabaseDeadlineExceeded` (an ``OperationalError``, so the
API answers 503) is raised. Connecting has its own ``connect_timeout``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors

try:  # the default poll interval of the pinned psycopg
    from psycopg.connection import _WAIT_INTERVAL as WAIT_INTERVAL
except ImportError:  # pragma: no cover - older or newer psycopg
    WAIT_INTERVAL = 0.1

# psycopg raises this private error when ``wait(timeout=...)`` expires (psycopg >= 3.3).
_WaitTimeout: type[BaseException] = getattr(errors, "_WaitTimeout", TimeoutError)

DEADLINE_MARGIN_S = 1.0
"""Client deadline = statement_timeout + this: a slow statement gets the server's clean error first."""


class DatabaseDeadlineExceeded(psycopg.OperationalError):
    """The database did not answer one round trip within the client-side deadline."""


def deadline_for(statement_timeout_ms: int) -> float:
    """The client-side deadline of one round trip for a server ``statement_timeout``."""
    return statement_timeout_ms / 1000 + DEADLINE_MARGIN_S


class DeadlineConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every round trip must finish within ``deadline_s`` seconds."""

    deadline_s: float | None = None

    def wait(self, gen: Any, interval: float = WAIT_INTERVAL, timeout: float | None = None) -> Any:
        limit = timeout if timeout is not None else self.deadline_s
        try:
            return super().wait(gen, interval, limit)
        except _WaitTimeout as exc:
            # Mid-protocol: the connection cannot be used again (the pool discards a closed one).
            self.pgconn.finish()
            raise DatabaseDeadlineExceeded(f"the database did not answer within {limit:.1f}s") from exc


__all__ = ["DEADLINE_MARGIN_S", "DatabaseDeadlineExceeded", "DeadlineConnection", "deadline_for"]
