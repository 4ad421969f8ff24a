"""Versioned SQL migrations.

Files ``migrations/NNNN_name.sql`` run in order, each in its own transaction, under an
advisory lock so that concurrent cold starts or deploys never apply one twice. Applied
versions and checksums live in ``schema_migrations``; an edited, already applied file is
an error. ``{{EMBEDDING_DIM}}`` in a file is replaced by the deployment's embedding size
(``claw_ai.schema`` works it out and runs this module's :func:`apply_migrations`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x0C1A3A1  # arbitrary, constant: the advisory lock of the migration runner


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(embedding_dim: int) -> list[Migration]:
    """Every migration shipped with the layer, in version order."""
    found: list[Migration] = []
    for entry in resources.files("claw_common.data.migrations").iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        sql = entry.read_text(encoding="utf-8").replace("{{EMBEDDING_DIM}}", str(int(embedding_dim)))
        found.append(Migration(int(match.group(1)), match.group(2), sql))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


def apply_migrations(database_url: str, embedding_dim: int) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    import psycopg

    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version integer PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done: dict[int, Any] = {
                row[0]: row[1] for row in conn.execute("SELECT version, checksum FROM schema_migrations")
            }
            for migration in load_migrations(embedding_dim):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise RuntimeError(
                            f"migration {migration.version:04d}_{migration.name} changed after it was applied"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(f"{migration.version:04d}_{migration.name}")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now
