"""A unit of database work that loses a deadlock is run again (claw_common.data.db.retrying_conflicts)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from claw_common.data import db as database
from claw_common.errors import DependencyUnavailable
from tests.conftest import wait_for


@pytest.fixture
def rows(platform: Any, db: Any) -> str:
    db.execute("CREATE TABLE IF NOT EXISTS test_conflicts (id int PRIMARY KEY, v int NOT NULL)")
    db.execute("INSERT INTO test_conflicts VALUES (1, 0), (2, 0) ON CONFLICT (id) DO UPDATE SET v = 0")
    return str(db.info.dsn)


def test_the_loser_of_a_real_deadlock_runs_again_and_both_sides_land(rows: str, db: Any) -> None:
    other_holds_row_1 = threading.Event()
    failures: list[BaseException] = []

    def other() -> None:
        # Another transaction: row 1, then (once our work waits for row 1) row 2.
        try:
            with psycopg.connect(rows) as conn:
                conn.execute("UPDATE test_conflicts SET v = v + 10 WHERE id = 1")
                other_holds_row_1.set()
                wait_for(
                    lambda: db.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'UPDATE test_conflicts SET v = v + 1 WHERE id = 1%%'"
                    ).fetchone(),
                    timeout=10,
                )
                conn.execute("UPDATE test_conflicts SET v = v + 10 WHERE id = 2")
        except BaseException as exc:  # reported below
            failures.append(exc)

    attempts: list[int] = []

    def work() -> None:
        # Ours: row 2, then row 1, so the two wait for each other; ours waits first, so its
        # deadlock check fires first and PostgreSQL cancels it.
        attempts.append(1)
        with database.connection() as conn:
            conn.execute("UPDATE test_conflicts SET v = v + 1 WHERE id = 2")
            other_holds_row_1.wait(10)
            conn.execute("UPDATE test_conflicts SET v = v + 1 WHERE id = 1")

    thread = threading.Thread(target=other)
    thread.start()
    other_holds_row_1.wait(10)
    database.retrying_conflicts(work)
    thread.join(15)

    assert not failures and len(attempts) == 2
    values = dict(db.execute("SELECT id, v FROM test_conflicts ORDER BY id").fetchall()[i].values() for i in range(2))
    assert values == {1: 11, 2: 11}


def test_only_conflicts_are_run_again_and_not_forever() -> None:
    calls: list[int] = []

    def conflict() -> None:
        calls.append(1)
        raise DependencyUnavailable("down") from psycopg.errors.DeadlockDetected("deadlock detected")

    with pytest.raises(DependencyUnavailable):
        database.retrying_conflicts(conflict, attempts=3)
    assert len(calls) == 3

    calls.clear()

    def unreachable() -> None:
        calls.append(1)
        raise DependencyUnavailable("down") from psycopg.OperationalError("connection refused")

    with pytest.raises(DependencyUnavailable):
        database.retrying_conflicts(unreachable)
    assert len(calls) == 1
