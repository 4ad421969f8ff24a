"""Schemathesis over every OpenAPI document, as an anonymous client, a user and an admin.

A fixed seed and a fixed budget (``CLAW_FUZZ_EXAMPLES`` cases per operation and generation
mode, 22 by default: a little over 5,000 requests in about three minutes here). Every
response must be free of server errors, carry a status code its document declares and a
declared content type. ``CLAW_FUZZ_EXAMPLES=110`` is the long run (over 25,000 requests).
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import pytest

from tests.auth_helpers import new_user
from tests.fuzz_support import FUZZ_IP, FuzzReport, fuzz_document, fuzz_session

pytestmark = pytest.mark.run_last

DOCUMENTS = ("auth", "chat", "knowledge", "config")
SEED = 20261130
EXAMPLES = int(os.environ.get("CLAW_FUZZ_EXAMPLES") or 22)
MIN_REQUESTS = 5_000 if EXAMPLES >= 22 else 0
# Logging out would end the fuzzing caller's own sessions half-way; it is fuzzed anonymously.
AUTHENTICATED_EXCLUDE = frozenset({"POST /api/v1/auth/logout"})


@contextlib.contextmanager
def fuzz_allowed(db: Any) -> Any:
    """Allow-list the fuzzer's address (no rate limits) and put back every config it touched."""
    from psycopg.types.json import Jsonb

    from claw_common.config.reader import drop_caches
    from claw_common.data.cache import get_redis

    before = {r["key"]: r for r in db.execute("SELECT key, value, deleted_at FROM configs").fetchall()}
    db.execute(
        """INSERT INTO configs (key, value, version, updated_by) VALUES ('rate_limit.allow_ips', %s, 1, 'fuzz')
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = configs.version + 1, deleted_at = NULL""",
        (Jsonb([FUZZ_IP]),),
    )
    drop_caches()
    try:
        yield
    finally:
        for row in db.execute("SELECT key, value, deleted_at FROM configs").fetchall():
            old = before.get(row["key"])
            if old is None:
                db.execute("DELETE FROM configs WHERE key = %s", (row["key"],))
            elif (old["value"], old["deleted_at"]) != (row["value"], row["deleted_at"]):
                db.execute(
                    "UPDATE configs SET value = %s, deleted_at = %s, version = version + 1 WHERE key = %s",
                    (Jsonb(old["value"]), old["deleted_at"], row["key"]),
                )
        drop_caches()
        get_redis().delete(f"claw:auth:fail:ip:{FUZZ_IP}")


def test_no_server_errors_and_only_declared_answers_in_every_document(platform: Any, api: Any, db: Any) -> None:
    callers = {
        "anonymous": {},
        "user": new_user(api, tier="enterprise").headers,
        "admin": new_user(api, admin=True).headers,
    }
    total = FuzzReport()
    session = fuzz_session()
    with fuzz_allowed(db), session:
        for document in DOCUMENTS:
            for who, headers in callers.items():
                # Hypothesis prints each falsifying example; the report below lists them once.
                with contextlib.redirect_stdout(io.StringIO()):
                    report = fuzz_document(
                        platform.gateway_url,
                        f"/api/v1/openapi/{document}.json",
                        headers=headers,
                        examples=EXAMPLES,
                        seed=SEED,
                        session=session,
                        exclude=AUTHENTICATED_EXCLUDE if headers else frozenset(),
                    )
                print(f"{document:10} {who:9} {report.summary()}")
                total.add(report)
    print(f"all documents: {total.summary()}")

    failures = "\n".join(f"{key}\n    e.g. {example}" for key, example in sorted(total.failures.items()))
    assert not total.failures, f"{len(total.failures)} distinct failures:\n{failures}"
    assert total.requests >= MIN_REQUESTS
    assert not any(code >= 500 for code in total.statuses)
    # The fuzzer got past validation into real work (otherwise it tested nothing).
    assert total.statuses[200] + total.statuses[201] > 100
