"""PostgreSQL access with psycopg 3.

One small pool per process (size 1 in Lambda, so the connection is reused across warm
invocations), pgvector types registered on every new connection. Driver errors that mean
"the database is unreachable" become ``DependencyUnavailable``.

Deadlines (docs/reliability.md): connecting ``CONNECT_TIMEOUT_S``; every statement
``statement_timeout`` on the server and the same plus a second on the client
(``claw_common.data.deadline``, so a hung server is noticed too); the health check of a
pooled connection ``CHECK_DEADLINE_S``; waiting for a pooled connection ``POOL_TIMEOUT_S``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from claw_common.errors import DependencyUnavailable
from claw_common.observability import logger, tracer
from claw_common.settings import get_settings

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

T = TypeVar("T")


CONNECT_TIMEOUT_S = 3
CHECK_DEADLINE_S = 1.0
POOL_TIMEOUT_S = 3.0


def _configure(conn: psycopg.Connection) -> None:
    from claw_common.data.deadline import deadline_for

    conn.deadline_s = deadline_for(get_settings().db_statement_timeout_ms)  # type: ignore[attr-defined]
    try:
        # pgvector comes with the AI layer: functions without it (auth, config) never read vectors.
        from pgvector.psycopg import register_vector
    except ImportError:
        pass
    else:
        try:
            register_vector(conn)
        except Exception:  # noqa: BLE001 - before the first migration the type does not exist yet
            conn.rollback()
    conn.commit()


def _check(conn: psycopg.Connection) -> None:
    """The pool's check of an idle connection before handing it out (it may have died while the
    Lambda was frozen), with a short deadline of its own."""
    from psycopg_pool import ConnectionPool

    saved = conn.deadline_s  # type: ignore[attr-defined]
    conn.deadline_s = CHECK_DEADLINE_S  # type: ignore[attr-defined]
    try:
        ConnectionPool.check_connection(conn)
    finally:
        conn.deadline_s = saved  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def get_pool() -> ConnectionPool[Any]:
    """The process's connection pool, opened on first use."""
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    from claw_common.data.credentials import database_credentials, rotating_connection_class
    from claw_common.data.deadline import DeadlineConnection

    settings = get_settings()
    credentials = database_credentials()
    return ConnectionPool(
        # Resolved for every new connection: after a secret rotation the pool connects with the new one.
        credentials.url,
        connection_class=rotating_connection_class(credentials, DeadlineConnection),
        min_size=1,
        max_size=settings.db_pool_max,
        kwargs={
            "row_factory": dict_row,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "claw-ai",
            "options": f"-c statement_timeout={int(settings.db_statement_timeout_ms)}",
        },
        configure=_configure,
        check=_check,
        open=True,
        timeout=POOL_TIMEOUT_S,
        name="claw",
    )


@contextmanager
def connection(statement_timeout_ms: int | None = None) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A pooled connection; the block runs in one transaction, committed on success.

    ``statement_timeout_ms`` raises the statement deadline (server and client) for this block
    only, for bulk work such as ingest; API requests keep the short default.
    """
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        # An X-Ray subsegment per database unit of work (no SQL or parameters recorded).
        with tracer.provider.in_subsegment("## postgres"), get_pool().connection() as conn:
            if statement_timeout_ms is None:
                yield conn  # type: ignore[misc]  # the pool's row_factory makes these dict rows
            else:
                with _statement_timeout(conn, statement_timeout_ms):
                    yield conn  # type: ignore[misc]
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("The database is unavailable; try again shortly.") from exc


@contextmanager
def _statement_timeout(conn: Any, timeout_ms: int) -> Iterator[None]:
    from claw_common.data.deadline import deadline_for

    default_ms = int(get_settings().db_statement_timeout_ms)
    conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(int(timeout_ms)),))
    conn.deadline_s = deadline_for(timeout_ms)
    try:
        yield
    finally:
        conn.deadline_s = deadline_for(default_ms)
        if not conn.closed and conn.info.transaction_status != 3:  # 3: INERROR
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(default_ms),))


def retrying_conflicts(work: Callable[[], T], *, attempts: int = 3) -> T:
    """``work()`` (one :func:`connection` block), run again when PostgreSQL rolled it back as the
    loser of a deadlock or a serialization conflict (SQLSTATE class 40): the other transaction
    has finished by then, and the same work goes through. Cascading deletes meet the row locks of
    concurrent writers in an order neither chose (a knowledge base deleted while ingest writes
    one of its documents); PostgreSQL breaks such a cycle after ``deadlock_timeout`` (1 s) by
    cancelling one side. Only for work that is safe to repeat."""
    import psycopg

    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DependencyUnavailable as exc:
            cause = exc.__cause__
            conflict = isinstance(cause, psycopg.Error) and str(cause.sqlstate or "").startswith("40")
            if attempt == attempts or not conflict:
                raise
            logger.warning("transaction rolled back by a conflict; running it again", extra={"attempt": attempt})
    raise AssertionError("unreachable")


def db_ping() -> bool:
    """True when the database answers ``SELECT 1``."""
    try:
        with connection() as conn:
            return conn.execute("SELECT 1 AS ok").fetchone() is not None
    except DependencyUnavailable:
        return False


def close_pool() -> None:
    """Close the pool (tests and the local runtime on shutdown)."""
    from claw_common.data.credentials import database_credentials

    if get_pool.cache_info().currsize:
        get_pool().close()
        get_pool.cache_clear()
    database_credentials.cache_clear()
