"""The embedded PostgreSQL takes server settings (the benchmarks size ``shared_buffers`` as a
production server would): applied with one restart, kept across restarts, the data intact."""

from __future__ import annotations

from pathlib import Path

import psycopg

from claw_local.services import start_postgres


def test_server_settings_are_applied_with_a_restart_and_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "postgres"
    url, stop = start_postgres(data_dir)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            default = conn.execute("SHOW shared_buffers").fetchone()[0]
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
    finally:
        stop()
    wanted = "256MB" if default != "256MB" else "192MB"

    url, stop = start_postgres(data_dir, settings={"shared_buffers": wanted})
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SHOW shared_buffers").fetchone()[0] == wanted
            assert conn.execute("SELECT n FROM kept").fetchone()[0] == 7
    finally:
        stop()

    # Started again without settings, the server keeps what ALTER SYSTEM wrote.
    url, stop = start_postgres(data_dir)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SHOW shared_buffers").fetchone()[0] == wanted
    finally:
        stop()
