"""The profile (GET /auth/me) is served cache-aside and an admin's change is visible at once."""

from __future__ import annotations

from typing import Any

from tests.auth_helpers import new_user

API = "/api/v1"


def test_me_reflects_an_admin_change_immediately(api: Any) -> None:
    user = new_user(api)
    admin = new_user(api, admin=True)
    # Given the profile read twice (the second from the cache)
    assert api.get(f"{API}/auth/me", headers=user.headers).json()["tier"] == "free"
    assert api.get(f"{API}/auth/me", headers=user.headers).json()["tier"] == "free"

    # When an admin moves the user to another tier
    resp = api.patch(f"{API}/users/{user.id}", json={"tier": "pro"}, headers=admin.headers)
    assert resp.status_code == 200

    # Then the next read shows it (the write invalidated the cached profile)
    me = api.get(f"{API}/auth/me", headers=user.headers).json()
    assert me["tier"] == "pro" and me["id"] == user.id
