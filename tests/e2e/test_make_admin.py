"""`make admin` while `make dev` runs applies at once (no wait for a cache to expire)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.auth_helpers import new_user

ROOT = Path(__file__).resolve().parents[2]


def test_promotion_applies_at_once_to_the_running_platform(platform: Any, api: Any) -> None:
    # Given a signed-in user whose verdicts the gateway and the cache hold
    user = new_user(api)
    assert api.get("/api/v1/users", headers=user.headers).status_code == 403
    assert api.get("/api/v1/auth/me", headers=user.headers).json()["role"] == "user"

    # When `make admin` promotes them (it finds the running platform through its data folder)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL")}
    env.update(
        CLAW_DATA_DIR=str(platform.data_dir),
        CLAW_ADMIN_EMAIL=user.email,
        CLAW_ADMIN_PASSWORD=user.password,
        PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("layers/common", "layers/ai", "local")),
    )
    result = subprocess.run(
        [sys.executable, "-m", "claw_local.admin"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "applied to the platform running at" in result.stdout

    # Then the same token is an admin's on the very next request
    assert api.get("/api/v1/users", headers=user.headers).status_code == 200
