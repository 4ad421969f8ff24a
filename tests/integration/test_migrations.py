"""Versioned migrations: applied once, in order, and an edited applied file is refused."""

from __future__ import annotations

import os
from typing import Any

import pytest

from claw_common.data.migrate import apply_migrations, load_migrations


def test_migrations_are_recorded_in_order_and_reapplying_changes_nothing(db: Any) -> None:
    rows = db.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    shipped = load_migrations(512)
    assert [r["version"] for r in rows] == [m.version for m in shipped]
    assert apply_migrations(os.environ["DATABASE_URL"], 512) == []
    ext = db.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert ext is not None and ext["extversion"] >= "0.8"


def test_an_applied_migration_that_changed_is_refused(db: Any) -> None:
    original = db.execute("SELECT checksum FROM schema_migrations WHERE version = 1").fetchone()["checksum"]
    db.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    try:
        with pytest.raises(RuntimeError, match="changed after it was applied"):
            apply_migrations(os.environ["DATABASE_URL"], 512)
    finally:
        db.execute("UPDATE schema_migrations SET checksum = %s WHERE version = 1", (original,))
