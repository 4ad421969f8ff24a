"""The auth API through the local gateway: accounts, sessions, API keys, admin, lockout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth_helpers import login, new_user

API = "/api/v1"
PROBLEM = "application/problem+json"


def _email() -> str:
    return f"flow-{uuid.uuid4().hex[:12]}@example.com"


@pytest.fixture()
def clear_ip_failures(platform: Any) -> Iterator[None]:
    """Failed logins from 127.0.0.1 count against the IP limit; leave none behind for other tests."""
    yield
    from claw_common.data.cache import get_redis

    get_redis().delete("claw:auth:fail:ip:127.0.0.1")


def test_register_login_me_refresh_logout_and_the_refresh_token_is_dead(api: Any) -> None:
    email, password = _email(), "Correct-horse-9"
    # Given a new account
    resp = api.post(f"{API}/auth/register", json={"email": email, "password": password, "name": "Ada", "company": "C"})
    assert resp.status_code == 201
    user = resp.json()
    assert set(user) >= {"id", "email", "name", "role", "tier", "is_active", "created_at"}
    assert (user["email"], user["role"], user["tier"], user["is_active"]) == (email, "user", "free", True)
    assert "password" not in resp.text and "password_hash" not in resp.text

    # When it signs in
    tokens = login(api, email, password)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] > 0
    me = api.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["id"] == user["id"]

    # Then the refresh token rotates
    refreshed = api.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"] and new["token_type"] == "bearer"
    headers = {"Authorization": f"Bearer {new['access_token']}"}
    assert api.get(f"{API}/auth/me", headers=headers).json()["email"] == email

    # And after logout the session's refresh token no longer works
    out = api.post(f"{API}/auth/logout", json={"refresh_token": new["refresh_token"]}, headers=headers)
    assert out.status_code == 204
    dead = api.post(f"{API}/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert dead.status_code == 401 and dead.headers["content-type"] == PROBLEM


def test_login_accepts_the_oauth2_password_form(api: Any) -> None:
    user = new_user(api)
    resp = api.post(f"{API}/auth/login", data={"username": user.email.upper(), "password": user.password})
    assert resp.status_code == 200
    assert (
        api.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {resp.json()['access_token']}"}).json()["id"]
        == user.id
    )


def test_reusing_a_refresh_token_revokes_its_whole_family(api: Any) -> None:
    user = new_user(api)
    first = user.refresh_token
    second = api.post(f"{API}/auth/refresh", json={"refresh_token": first}).json()["refresh_token"]
    # An attacker replays the first (already used) token ...
    replay = api.post(f"{API}/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    # ... so the legitimate latest token of that family is dead too.
    assert api.post(f"{API}/auth/refresh", json={"refresh_token": second}).status_code == 401
    # Another session (another login) is a different family and still works.
    other = login(api, user.email, user.password)
    assert api.post(f"{API}/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200


def test_unknown_email_and_wrong_password_get_the_same_answer(api: Any, clear_ip_failures: None) -> None:
    user = new_user(api)
    wrong = api.post(f"{API}/auth/login", json={"email": user.email, "password": "Wrong-password-1"})
    unknown = api.post(f"{API}/auth/login", json={"email": _email(), "password": "Wrong-password-1"})
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(wrong) == strip(unknown)


def test_repeated_failures_lock_the_account_with_429_and_retry_after(api: Any, clear_ip_failures: None) -> None:
    user = new_user(api)
    for _ in range(5):
        resp = api.post(f"{API}/auth/login", json={"email": user.email, "password": "Wrong-password-1"})
        assert resp.status_code == 401
    # Even the right password is refused while the lock holds.
    locked = api.post(f"{API}/auth/login", json={"email": user.email, "password": user.password})
    assert locked.status_code == 429
    assert locked.headers["content-type"] == PROBLEM
    assert int(locked.headers["retry-after"]) > 0
    assert locked.json()["status"] == 429


def test_a_successful_login_resets_the_account_counter(api: Any, clear_ip_failures: None) -> None:
    user = new_user(api)
    for _ in range(4):
        assert api.post(f"{API}/auth/login", json={"email": user.email, "password": "Wrong-pass-12"}).status_code == 401
    login(api, user.email, user.password)
    for _ in range(4):
        assert api.post(f"{API}/auth/login", json={"email": user.email, "password": "Wrong-pass-12"}).status_code == 401
    login(api, user.email, user.password)


def test_api_key_is_shown_once_authenticates_and_fails_once_revoked(api: Any) -> None:
    user = new_user(api)
    created = api.post(f"{API}/auth/api-keys", json={"name": "ci"}, headers=user.headers)
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith(body["prefix"]) and len(key) > len(body["prefix"]) + 20
    # Listed with prefix, never with the key
    listed = api.get(f"{API}/auth/api-keys", headers=user.headers)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()["items"]] == [body["id"]]
    assert key not in listed.text

    # Both spellings authenticate as the owner
    for authorization in (f"ApiKey {key}", f"Bearer {key}"):
        me = api.get(f"{API}/auth/me", headers={"Authorization": authorization})
        assert me.status_code == 200 and me.json()["id"] == user.id
    used = api.get(f"{API}/auth/api-keys", headers=user.headers).json()["items"][0]
    assert used["last_used_at"] is not None

    # Revoked: refused at once, although the gateway still caches the key's verdict
    assert api.delete(f"{API}/auth/api-keys/{body['id']}", headers=user.headers).status_code == 204
    for authorization in (f"ApiKey {key}", f"Bearer {key}"):
        assert api.get(f"{API}/auth/me", headers={"Authorization": authorization}).status_code == 401
    assert api.get(f"{API}/auth/api-keys", headers=user.headers).json()["items"] == []
    assert api.delete(f"{API}/auth/api-keys/{body['id']}", headers=user.headers).status_code == 404


def test_an_api_key_cannot_create_more_keys(api: Any) -> None:
    user = new_user(api)
    key = api.post(f"{API}/auth/api-keys", json={"name": "bot"}, headers=user.headers).json()["key"]
    resp = api.post(f"{API}/auth/api-keys", json={"name": "more"}, headers={"Authorization": f"ApiKey {key}"})
    assert resp.status_code == 403


def test_x_api_key_alone_is_refused_by_the_gateway_because_the_cache_keys_on_authorization(api: Any) -> None:
    user = new_user(api)
    key = api.post(f"{API}/auth/api-keys", json={"name": "legacy"}, headers=user.headers).json()["key"]
    resp = api.get(f"{API}/auth/me", headers={"X-API-Key": key})
    assert resp.status_code == 401 and resp.headers["content-type"] == PROBLEM


def test_deleting_another_users_api_key_is_404_and_the_key_keeps_working(api: Any) -> None:
    alice, bob = new_user(api), new_user(api)
    bobs = api.post(f"{API}/auth/api-keys", json={"name": "bob's"}, headers=bob.headers).json()
    resp = api.delete(f"{API}/auth/api-keys/{bobs['id']}", headers=alice.headers)
    missing = api.delete(f"{API}/auth/api-keys/{uuid.uuid4()}", headers=alice.headers)
    assert resp.status_code == missing.status_code == 404
    assert resp.json()["detail"] == missing.json()["detail"]
    assert api.get(f"{API}/auth/me", headers={"Authorization": f"ApiKey {bobs['key']}"}).status_code == 200
    assert bobs["id"] not in api.get(f"{API}/auth/api-keys", headers=alice.headers).text


def test_a_user_gets_403_on_admin_routes(api: Any) -> None:
    user = new_user(api)
    for method, path in (("GET", "/users"), ("GET", f"/users/{user.id}"), ("PATCH", f"/users/{user.id}")):
        resp = api.request(method, f"{API}{path}", headers=user.headers, json={"role": "admin"})
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.headers["content-type"] == PROBLEM
    assert api.get(f"{API}/auth/me", headers=user.headers).json()["role"] == "user"


def test_admin_lists_reads_and_updates_users(api: Any) -> None:
    admin, user = new_user(api, admin=True), new_user(api)
    page = api.get(f"{API}/users", params={"limit": 2}, headers=admin.headers)
    assert page.status_code == 200
    first = page.json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get(f"{API}/users", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin.headers)
    assert second.status_code == 200
    assert not {u["id"] for u in first["items"]} & {u["id"] for u in second.json()["items"]}
    assert api.get(f"{API}/users", params={"limit": 101}, headers=admin.headers).status_code == 422
    assert api.get(f"{API}/users", params={"cursor": "garbage!"}, headers=admin.headers).status_code == 422

    assert api.get(f"{API}/users/{user.id}", headers=admin.headers).json()["email"] == user.email
    assert api.get(f"{API}/users/{uuid.uuid4()}", headers=admin.headers).status_code == 404
    assert api.get(f"{API}/users/not-a-uuid", headers=admin.headers).status_code == 404

    patched = api.patch(f"{API}/users/{user.id}", json={"tier": "pro"}, headers=admin.headers)
    assert patched.status_code == 200 and patched.json()["tier"] == "pro"
    assert api.get(f"{API}/auth/me", headers=user.headers).json()["tier"] == "pro"
    assert api.patch(f"{API}/users/{user.id}", json={"tier": "platinum"}, headers=admin.headers).status_code == 422
    assert api.patch(f"{API}/users/{user.id}", json={"is_active": None}, headers=admin.headers).status_code == 422
    # An admin cannot lock themselves out
    assert api.patch(f"{API}/users/{admin.id}", json={"is_active": False}, headers=admin.headers).status_code == 409


def test_a_disabled_user_is_refused_even_with_an_unexpired_token_and_a_warm_policy_cache(
    api: Any, platform: Any
) -> None:
    admin, user = new_user(api, admin=True), new_user(api)
    authorizer = platform.lambdas["AuthorizerFunction"]
    # Given the gateway has cached both verdicts
    assert api.get(f"{API}/auth/me", headers=user.headers).status_code == 200
    assert api.get(f"{API}/auth/me", headers=admin.headers).status_code == 200
    calls = authorizer.invocations
    # When an admin disables the account
    resp = api.patch(f"{API}/users/{user.id}", json={"is_active": False}, headers=admin.headers)
    assert resp.status_code == 200 and resp.json()["is_active"] is False
    # Then the very next request with the same token is refused (by the API: the gateway's cache still allows it)
    refused = api.get(f"{API}/auth/me", headers=user.headers)
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    assert authorizer.invocations == calls
    # And once the cache has expired, by the authorizer itself
    platform.gateway.authorizer_cache.clear()
    assert api.get(f"{API}/auth/me", headers=user.headers).status_code == 401
    assert authorizer.invocations == calls + 1
    # Sessions are over and signing in again is refused
    assert api.post(f"{API}/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 401
    assert api.post(f"{API}/auth/login", json={"email": user.email, "password": user.password}).status_code == 403
    # Re-enabled, the same token works again
    api.patch(f"{API}/users/{user.id}", json={"is_active": True}, headers=admin.headers)
    assert api.get(f"{API}/auth/me", headers=user.headers).status_code == 200


def test_a_demoted_admin_gets_403_on_the_next_request(api: Any) -> None:
    boss, other_admin = new_user(api, admin=True), new_user(api, admin=True)
    assert api.get(f"{API}/users", headers=boss.headers).status_code == 200
    api.patch(f"{API}/users/{boss.id}", json={"role": "user"}, headers=other_admin.headers)
    resp = api.get(f"{API}/users", headers=boss.headers)
    assert resp.status_code == 403


def test_the_authorizer_context_reaches_the_handler_and_client_headers_change_nothing(api: Any) -> None:
    alice, bob = new_user(api), new_user(api, admin=True)
    spoof = {
        **alice.headers,
        "X-User-Id": bob.id,
        "X-User-Role": "admin",
        "X-Amzn-Authorizer-User-Id": bob.id,
        "X-Forwarded-For": "10.0.0.1",
    }
    me = api.get(f"{API}/auth/me", headers=spoof)
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["role"]) == (alice.id, "user")
    assert api.get(f"{API}/users", headers=spoof).status_code == 403


def test_a_cached_policy_does_not_403_other_routes(api: Any, platform: Any) -> None:
    admin = new_user(api, admin=True)
    authorizer = platform.lambdas["AuthorizerFunction"]
    assert api.get(f"{API}/auth/me", headers=admin.headers).status_code == 200
    calls = authorizer.invocations
    # Other resources and methods within the cache TTL reuse the verdict: no gateway 403.
    assert api.get(f"{API}/auth/api-keys", headers=admin.headers).status_code == 200
    assert api.get(f"{API}/users", headers=admin.headers).status_code == 200
    assert api.get(f"{API}/users/{admin.id}", headers=admin.headers).status_code == 200
    assert api.post(f"{API}/auth/api-keys", json={"name": "x"}, headers=admin.headers).status_code == 201
    assert authorizer.invocations == calls


def test_duplicate_email_in_any_case_is_409(api: Any) -> None:
    user = new_user(api)
    resp = api.post(f"{API}/auth/register", json={"email": user.email.upper(), "password": "Another-pass-7"})
    assert resp.status_code == 409 and resp.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "password",
    [
        "Short-1",
        "alllowercaseletters",
        "12345678901234",
        "password123",
        "aaaaaaaaaaA1",
        "x" * 10_000,
        "Ab1-" * 33,
    ],
)
def test_weak_or_oversized_passwords_are_422_and_never_echoed(api: Any, password: str) -> None:
    resp = api.post(f"{API}/auth/register", json={"email": _email(), "password": password})
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == PROBLEM
    assert password not in resp.text


def test_the_email_as_password_is_422(api: Any) -> None:
    email = f"Longname{uuid.uuid4().hex[:6]}@example.com"
    for password in (email, email.split("@")[0]):
        resp = api.post(f"{API}/auth/register", json={"email": email, "password": password})
        assert resp.status_code == 422 and password not in resp.text


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "Good-pass-123"},
        {"email": "a@b", "password": "Good-pass-123"},
        {"email": "x" * 300 + "@example.com", "password": "Good-pass-123"},
        {"password": "Good-pass-123"},
        {"email": "ok@example.com"},
        {"email": "ok2@example.com", "password": "Good-pass-123", "phone": "call me"},
    ],
)
def test_bad_registration_bodies_are_422(api: Any, body: dict[str, Any]) -> None:
    resp = api.post(f"{API}/auth/register", json=body)
    assert resp.status_code == 422 and resp.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        ("/auth/login", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
        ("/auth/login", {"json": ["a", "list"]}),
        ("/auth/login", {"json": {"email": "a@example.com", "password": "p" * 10_000}}),
        ("/auth/login", {"data": {"username": "a@example.com"}}),
        ("/auth/register", {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}),
        ("/auth/refresh", {"json": {"refresh_token": "short"}}),
        ("/auth/refresh", {"json": {}}),
    ],
)
def test_malformed_public_requests_are_4xx_problems_never_500(api: Any, path: str, kwargs: dict[str, Any]) -> None:
    resp = api.post(f"{API}{path}", **kwargs)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.headers["content-type"] == PROBLEM
    assert "p" * 100 not in resp.text


def test_the_auth_openapi_document_is_published(api: Any) -> None:
    resp = api.get(f"{API}/openapi/auth.json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    assert {"/api/v1/auth/login", "/api/v1/auth/api-keys/{key_id}", "/api/v1/users/{user_id}"} <= set(paths)
