"""``python -m claw_local.admin``: create or promote an admin (``make admin EMAIL=… PASSWORD=…``).

Reads ``CLAW_ADMIN_EMAIL`` and ``CLAW_ADMIN_PASSWORD``. Works against ``DATABASE_URL`` when
set (any PostgreSQL, e.g. the deployed one through a tunnel), else against the embedded
PostgreSQL of ``make dev`` in ``.claw/postgres`` (reusing the server if it runs). Migrations
are applied first, so it also works on a fresh database.

While ``make dev`` runs (its ``.claw/platform.json``), the change applies at once: the cached
principal is dropped from the platform's own Valkey, and the gateway's authorizer cache is
flushed (as ``aws apigateway flush-stage-authorizers-cache`` would on AWS).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from claw_local.platform import DEFAULT_DATA_DIR, running_platform
from claw_local.services import apply_dummy_aws_env


def main() -> int:
    email = os.environ.get("CLAW_ADMIN_EMAIL", "").strip()
    password = os.environ.get("CLAW_ADMIN_PASSWORD", "")
    if not email or not password:
        print("usage: CLAW_ADMIN_EMAIL=you@example.com CLAW_ADMIN_PASSWORD=... python -m claw_local.admin")
        return 2
    apply_dummy_aws_env()
    data_dir = Path(os.environ.get("CLAW_DATA_DIR") or DEFAULT_DATA_DIR)
    running = running_platform(data_dir)
    if running and not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = running["database_url"]
        os.environ.setdefault("REDIS_URL", running["redis_url"])
    stop = None
    if not os.environ.get("DATABASE_URL"):
        from claw_local.services import start_postgres

        url, stop = start_postgres(data_dir / "postgres")
        os.environ["DATABASE_URL"] = url
    # The account module reads settings; the cache is optional for it, so a placeholder is
    # enough when no platform runs (nothing is cached then; invalidation just logs a warning).
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ.setdefault("REDIS_TIMEOUT_S", "0.2")
    try:
        from claw_ai.schema import migrate
        from claw_common.auth.accounts import ensure_admin
        from claw_common.settings import get_settings

        get_settings.cache_clear()
        # The same call as the local platform's start (claw_local.platform).
        migrate()
        try:
            user = ensure_admin(email, password)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"admin ready: {user.email} (id {user.id})")
        if running:
            _flush_authorizers_cache(running["gateway_url"])
            print(f"applied to the platform running at {running['gateway_url']}")
        return 0
    finally:
        from claw_common.data.db import close_pool

        close_pool()
        # start_postgres reuses a running server (make dev) and stops only one it started.
        if stop is not None:
            stop()


def _flush_authorizers_cache(gateway_url: str) -> None:
    import urllib.request

    from claw_local.gateway import FLUSH_AUTHORIZERS_PATH

    request = urllib.request.Request(gateway_url + FLUSH_AUTHORIZERS_PATH, method="POST")  # noqa: S310
    try:
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - the local gateway
    except OSError as exc:
        print(f"warning: the gateway's authorizer cache was not flushed ({exc}); it expires on its own")


if __name__ == "__main__":
    raise SystemExit(main())
