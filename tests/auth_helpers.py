"""Users for tests: ``new_user(api)`` registers and signs in a fresh account through the gateway.

    from tests.auth_helpers import new_user

    def test_something(api):
        alice = new_user(api)                       # role user, tier free
        boss = new_user(api, admin=True, tier="pro")
        api.get("/api/v1/auth/me", headers=alice.headers)

Role and tier are set directly in the database (the admin API needs an admin to exist
first), then the cached principal state is dropped, exactly as the admin API does.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

API = "/api/v1"


@dataclass
class TestUser:
    __test__ = False  # not a pytest test class

    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    headers: dict[str, str] = field(default_factory=dict)


def _set_role_and_tier(user_id: str, role: str, tier: str) -> None:
    import psycopg

    from claw_common.auth.accounts import forget_principal

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("UPDATE users SET role = %s, tier = %s, updated_at = now() WHERE id = %s", (role, tier, user_id))
    forget_principal(user_id=user_id)


def login(api: Any, email: str, password: str) -> dict[str, Any]:
    """POST /auth/login; returns the token response (asserts 200)."""
    resp = api.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()


def new_user(api: Any, *, admin: bool = False, tier: str = "free") -> TestUser:
    """A new, signed-in user (an admin when ``admin``) on the platform behind ``api``."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    password = f"Pw-{uuid.uuid4().hex}"
    resp = api.post(f"{API}/auth/register", json={"email": email, "password": password, "name": "Test User"})
    assert resp.status_code == 201, resp.text
    user_id = resp.json()["id"]
    if admin or tier != "free":
        _set_role_and_tier(user_id, "admin" if admin else "user", tier)
    tokens = login(api, email, password)
    return TestUser(
        id=user_id,
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
