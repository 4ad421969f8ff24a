"""SQL of the config aggregate: ``configs``, ``config_history``, ``config_audit``.

Every function takes an open connection, so callers decide the transaction; writes lock the
row (``FOR UPDATE``) before they compare versions, which makes one writer win per version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

Row = dict[str, Any]

_COLUMNS = sql.SQL(
    """key, value, value_ciphertext, value_data_key, description, is_sensitive, is_public, version,
       created_at, updated_by, updated_at, deleted_at"""
)


def _q(template: str, **parts: sql.Composable) -> sql.Composed:
    """A query whose ``{cols}`` is the column list (and other constant parts)."""
    return sql.SQL(template).format(cols=_COLUMNS, **parts)


def lock(conn: Any, key: str) -> Row | None:
    """The row of ``key`` (live or tombstone), locked until the transaction ends."""
    return conn.execute(_q("SELECT {cols} FROM configs WHERE key = %s FOR UPDATE"), (key,)).fetchone()


def lock_many(conn: Any, keys: list[str] | None) -> dict[str, Row]:
    """Rows of ``keys`` (every row when None), locked, by key. Locks in key order (no deadlocks)."""
    if keys is None:
        rows = conn.execute(_q("SELECT {cols} FROM configs ORDER BY key FOR UPDATE")).fetchall()
    else:
        rows = conn.execute(
            _q("SELECT {cols} FROM configs WHERE key = ANY(%s) ORDER BY key FOR UPDATE"),
            (keys,),
        ).fetchall()
    return {row["key"]: row for row in rows}


def get(conn: Any, key: str) -> Row | None:
    """The live row of ``key``, or None (missing or deleted)."""
    return conn.execute(
        _q("SELECT {cols} FROM configs WHERE key = %s AND deleted_at IS NULL"),
        (key,),
    ).fetchone()


def list_live(
    conn: Any, *, after: str | None, limit: int, prefix: str | None = None, public_only: bool = False
) -> list[Row]:
    """Live rows in key order after ``after`` (keyset pagination)."""
    clauses: list[sql.Composable] = [sql.SQL("deleted_at IS NULL")]
    params: list[Any] = []
    if public_only:
        clauses.append(sql.SQL("is_public AND NOT is_sensitive"))
    if after is not None:
        clauses.append(sql.SQL("key > %s"))
        params.append(after)
    if prefix:
        # starts_with avoids LIKE wildcards in a user-supplied prefix.
        clauses.append(sql.SQL("starts_with(key, %s)"))
        params.append(prefix)
    params.append(limit)
    return conn.execute(
        _q("SELECT {cols} FROM configs WHERE {where} ORDER BY key LIMIT %s", where=sql.SQL(" AND ").join(clauses)),
        params,
    ).fetchall()


def write_state(
    conn: Any,
    *,
    key: str,
    current: Row | None,
    actor: str,
    value: Any,
    ciphertext: bytes | None,
    data_key: bytes | None,
    description: str,
    is_sensitive: bool,
    is_public: bool,
) -> Row:
    """Insert or replace the row of ``key`` with a new live state; the version goes up by one."""
    json_value = None if is_sensitive else Jsonb(value)
    if current is None:
        return conn.execute(
            _q("""INSERT INTO configs (key, value, value_ciphertext, value_data_key, description, is_sensitive,
                                     is_public, version, updated_by)
                VALUES (%s, %s, %s, %s, %s, %s, %s, 1, %s)
                RETURNING {cols}"""),
            (key, json_value, ciphertext, data_key, description, is_sensitive, is_public, actor),
        ).fetchone()
    return conn.execute(
        _q("""UPDATE configs
               SET value = %s, value_ciphertext = %s, value_data_key = %s, description = %s, is_sensitive = %s,
                   is_public = %s, version = version + 1, updated_by = %s, updated_at = now(), deleted_at = NULL
             WHERE key = %s AND version = %s
         RETURNING {cols}"""),
        (json_value, ciphertext, data_key, description, is_sensitive, is_public, actor, key, current["version"]),
    ).fetchone()


def tombstone(conn: Any, *, key: str, current: Row, actor: str) -> Row:
    """Mark ``key`` deleted (the row stays so its version numbers never repeat)."""
    return conn.execute(
        _q("""UPDATE configs
               SET value = NULL, value_ciphertext = NULL, value_data_key = NULL, is_public = false,
                   version = version + 1, updated_by = %s, updated_at = now(), deleted_at = now()
             WHERE key = %s AND version = %s
         RETURNING {cols}"""),
        (actor, key, current["version"]),
    ).fetchone()


def add_history(
    conn: Any,
    *,
    row: Row,
    action: str,
    actor: str,
    old_value: Any,
    new_value: Any,
    rolled_back_to: int | None = None,
) -> None:
    """One history row for the change that produced ``row``; the state is kept for rollbacks."""
    live = row["deleted_at"] is None
    conn.execute(
        """INSERT INTO config_history (key, version, action, actor, old_value, new_value, state_value,
                                       state_ciphertext, state_data_key, state_description, state_sensitive,
                                       state_public, rolled_back_to)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            row["key"],
            row["version"],
            action,
            actor,
            Jsonb(old_value),
            Jsonb(new_value),
            Jsonb(row["value"]) if live and not row["is_sensitive"] else None,
            row["value_ciphertext"] if live else None,
            row["value_data_key"] if live else None,
            row["description"] if live else None,
            bool(row["is_sensitive"]) if live else False,
            bool(row["is_public"]) if live else False,
            rolled_back_to,
        ),
    )


def history(conn: Any, key: str, *, before: int | None, limit: int) -> list[Row]:
    """History of ``key``, newest first, versions below ``before``."""
    if before is None:
        return conn.execute(
            "SELECT * FROM config_history WHERE key = %s ORDER BY version DESC LIMIT %s", (key, limit)
        ).fetchall()
    return conn.execute(
        "SELECT * FROM config_history WHERE key = %s AND version < %s ORDER BY version DESC LIMIT %s",
        (key, before, limit),
    ).fetchall()


def history_version(conn: Any, key: str, version: int) -> Row | None:
    """The history row of ``key`` at ``version``."""
    return conn.execute("SELECT * FROM config_history WHERE key = %s AND version = %s", (key, version)).fetchone()


def has_history(conn: Any, key: str) -> bool:
    """True when ``key`` ever existed."""
    return conn.execute("SELECT 1 FROM config_history WHERE key = %s LIMIT 1", (key,)).fetchone() is not None


def add_audit(
    conn: Any,
    *,
    actor: str,
    action: str,
    key: str | None = None,
    version: int | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """One audit row (never with a sensitive value in ``detail``)."""
    conn.execute(
        """INSERT INTO config_audit (actor, action, key, version, detail, request_id)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (actor, action, key, version, Jsonb(detail or {}), request_id),
    )


def audit(
    conn: Any,
    *,
    key: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[Row]:
    """Audit rows matching every given filter, newest first."""
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column, value, op in (
        ("key", key, "="),
        ("actor", actor, "="),
        ("action", action, "="),
        ("at", since, ">="),
        ("at", until, "<"),
        ("id", before_id, "<"),
    ):
        if value is not None:
            clauses.append(sql.SQL("{} {} %s").format(sql.Identifier(column), sql.SQL(op)))
            params.append(value)
    where = sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")
    params.append(limit)
    query = sql.SQL("SELECT * FROM config_audit {where} ORDER BY id DESC LIMIT %s").format(where=where)
    return conn.execute(query, params).fetchall()
