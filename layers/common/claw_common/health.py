"""Health of the backing services, for ``GET /api/v1/health``."""

from __future__ import annotations

import time
from typing import Any

from claw_common.data.cache import redis_ping
from claw_common.data.db import db_ping


def check_health() -> tuple[bool, dict[str, Any]]:
    """(healthy, body): database and cache each ``ok`` or ``unavailable``, with latency."""
    checks: dict[str, Any] = {}
    for name, probe in (("database", db_ping), ("cache", redis_ping)):
        started = time.perf_counter()
        ok = probe()
        checks[name] = {
            "status": "ok" if ok else "unavailable",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    healthy = all(c["status"] == "ok" for c in checks.values())
    return healthy, {"status": "ok" if healthy else "degraded", "checks": checks}
