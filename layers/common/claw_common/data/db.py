"""PostgreSQL access with psycopg 3.

One small pool per process (size 1 in Lambda, so the connection is reused across warm
invocations), pgvector types registered on every new connection. Driver errors that mean
"the database is unreachable" become ``DependencyUnavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from claw_common.errors import DependencyUnavailable
from claw_common.observability import tracer
from claw_common.settings import get_settings

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool


def _configure(conn: psycopg.Connection) -> None:
    settings = get_settings()
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
    conn.execute(f"SET statement_timeout = {int(settings.db_statement_timeout_ms)}")
    conn.commit()


@lru_cache(maxsize=1)
def get_pool() -> ConnectionPool[Any]:
    """The process's connection pool, opened on first use."""
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    from claw_common.data.credentials import database_credentials, rotating_connection_class

    settings = get_settings()
    credentials = database_credentials()
    return ConnectionPool(
        # Resolved for every new connection: after a secret rotation the pool connects with the new one.
        credentials.url,
        connection_class=rotating_connection_class(credentials),
        min_size=1,
        max_size=settings.db_pool_max,
        kwargs={"row_factory": dict_row, "connect_timeout": 5, "application_name": "claw-ai"},
        configure=_configure,
        check=ConnectionPool.check_connection,
        open=True,
        timeout=10,
        name="claw",
    )


@contextmanager
def connection() -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A pooled connection; the block runs in one transaction, committed on success."""
    import psycopg
    from psycopg_pool import PoolTimeout

    try:
        # An X-Ray subsegment per database unit of work (no SQL or parameters recorded).
        with tracer.provider.in_subsegment("## postgres"), get_pool().connection() as conn:
            yield conn  # type: ignore[misc]  # the pool's row_factory makes these dict rows
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyUnavailable("The database is unavailable; try again shortly.") from exc


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
