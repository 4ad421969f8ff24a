"""The config API through the local gateway, as an admin's client and other functions see it."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.auth_helpers import new_user
from tests.conftest import wait_for

API = "/api/v1"
MASK = "********"


@pytest.fixture(scope="module")
def admin(api: Any) -> Any:
    # Enterprise tier: the concurrency test sends a few hundred requests in seconds.
    return new_user(api, admin=True, tier="enterprise")


@pytest.fixture(scope="module")
def member(api: Any) -> Any:
    return new_user(api)


def test_full_lifecycle_through_the_gateway(api: Any, admin: Any, member: Any, unique: str) -> None:
    key = f"e2e.flow_{unique}"
    h = admin.headers

    # Given a created key
    created = api.post(f"{API}/configs", json={"key": key, "value": {"n": 1}, "description": "demo"}, headers=h)
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) >= {
        "key",
        "value",
        "description",
        "is_sensitive",
        "is_public",
        "version",
        "updated_by",
        "updated_at",
    }
    assert body["version"] == 1 and body["updated_by"] == admin.id and created.headers["x-request-id"]

    # When updated with If-Match, and then by someone holding the old version
    ok = api.put(f"{API}/configs/{key}", json={"value": {"n": 2}}, headers={**h, "If-Match": '"1"'})
    stale = api.put(f"{API}/configs/{key}", json={"value": {"n": 3}, "version": 1}, headers=h)
    assert ok.status_code == 200 and ok.json()["version"] == 2
    assert stale.status_code == 409 and stale.headers["content-type"].startswith("application/problem+json")

    # Then rollback restores version 1's value under version 3
    rb = api.post(f"{API}/configs/{key}/rollback", json={"version": 1}, headers=h)
    assert rb.status_code == 200 and rb.json()["value"] == {"n": 1} and rb.json()["version"] == 3

    # Users cannot write, nor see a non-public key
    assert api.put(f"{API}/configs/{key}", json={"value": 9, "version": 3}, headers=member.headers).status_code == 403
    assert api.get(f"{API}/configs/{key}", headers=member.headers).status_code == 404

    # Delete, then history shows one row per write
    assert api.delete(f"{API}/configs/{key}", headers={**h, "If-Match": '"3"'}).status_code == 204
    assert api.get(f"{API}/configs/{key}", headers=h).status_code == 404
    items = api.get(f"{API}/configs/{key}/history", headers=h).json()["items"]
    assert [(i["version"], i["action"]) for i in items] == [
        (4, "delete"),
        (3, "rollback"),
        (2, "update"),
        (1, "create"),
    ]
    assert all(i["actor"] == admin.id for i in items)


def test_public_keys_need_no_token(api: Any, admin: Any, unique: str) -> None:
    key = f"e2e.public_{unique}"
    api.post(f"{API}/configs", json={"key": key, "value": "hello", "is_public": True}, headers=admin.headers)
    seen: set[str] = set()
    cursor = None
    while True:
        resp = api.get(f"{API}/configs/public", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert resp.status_code == 200
        seen |= {i["key"] for i in resp.json()["items"]}
        cursor = resp.json()["next_cursor"]
        if not cursor:
            break
    assert key in seen
    assert api.get(f"{API}/configs/{key}").status_code == 401  # only the list is anonymous


def test_twenty_concurrent_updates_lose_nothing(api: Any, admin: Any, unique: str) -> None:
    key = f"e2e.race_{unique}"
    assert api.post(f"{API}/configs", json={"key": key, "value": []}, headers=admin.headers).status_code == 201
    start = threading.Barrier(20)

    def append(n: int) -> int:
        start.wait(timeout=30)
        for attempt in range(200):
            current = api.get(f"{API}/configs/{key}", headers=admin.headers).json()
            resp = api.put(
                f"{API}/configs/{key}",
                json={"value": [*current["value"], n], "version": current["version"]},
                headers=admin.headers,
            )
            if resp.status_code == 200:
                return attempt
            assert resp.status_code == 409, resp.text
        raise AssertionError(f"writer {n} never won")

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(append, range(20)))

    final = api.get(f"{API}/configs/{key}", headers=admin.headers).json()
    assert sorted(final["value"]) == list(range(20)) and final["version"] == 21
    items = api.get(f"{API}/configs/{key}/history", params={"limit": 100}, headers=admin.headers).json()["items"]
    assert [i["version"] for i in items] == list(range(21, 0, -1))
    # Each change starts from the previous one's result: a complete, ordered chain
    for newer, older in itertools.pairwise(items):
        assert newer["old_value"] == older["new_value"]


def test_import_dry_run_and_invalid_item_write_nothing(api: Any, admin: Any, unique: str) -> None:
    items = [{"key": f"e2e_{unique}.a", "value": 1}, {"key": f"e2e_{unique}.b", "value": {"x": True}}]
    dry = api.post(f"{API}/configs/import", json={"items": items, "dry_run": True}, headers=admin.headers)
    assert dry.status_code == 200 and sorted(dry.json()["created"]) == [f"e2e_{unique}.a", f"e2e_{unique}.b"]
    assert api.get(f"{API}/configs/e2e_{unique}.a", headers=admin.headers).status_code == 404

    bad = [*items, {"key": "rate_limit.allow_ips", "value": ["10.0.0.1", "not-an-ip"]}]
    resp = api.post(f"{API}/configs/import", json={"items": bad}, headers=admin.headers)
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][:3] == ["body", "items", "2"]
    assert api.get(f"{API}/configs/e2e_{unique}.a", headers=admin.headers).status_code == 404

    ok = api.post(f"{API}/configs/import", json={"items": items}, headers=admin.headers)
    assert ok.status_code == 200 and len(ok.json()["created"]) == 2


def test_sensitive_value_masked_revealed_only_to_admins_and_audited(
    api: Any, admin: Any, member: Any, unique: str
) -> None:
    key = f"e2e.secret_{unique}"
    secret = f"sk-{unique}-do-not-leak"
    h = admin.headers
    assert (
        api.post(f"{API}/configs", json={"key": key, "value": secret, "is_sensitive": True}, headers=h).status_code
        == 201
    )

    for resp in (
        api.get(f"{API}/configs/{key}", headers=h),
        api.get(f"{API}/configs", params={"prefix": key}, headers=h),
        api.get(f"{API}/configs/{key}/history", headers=h),
        api.post(f"{API}/configs/export", json={"prefix": key}, headers=h),
    ):
        assert resp.status_code == 200 and secret not in resp.text and MASK in resp.text
    audit_page = api.get(f"{API}/configs/audit/log", params={"key": key}, headers=h)
    assert audit_page.status_code == 200 and secret not in audit_page.text

    assert api.get(f"{API}/configs/{key}", params={"reveal": "true"}, headers=member.headers).status_code == 404
    assert api.post(f"{API}/configs/export", json={"reveal": True}, headers=member.headers).status_code == 403
    revealed = api.get(f"{API}/configs/{key}", params={"reveal": "true"}, headers=h)
    assert revealed.json()["value"] == secret
    audit = api.get(f"{API}/configs/audit/log", params={"key": key, "actor": admin.id}, headers=h).json()["items"]
    assert [i["action"] for i in audit] == ["reveal", "create"]


def test_a_change_reaches_readers_and_chat_within_seconds(api: Any, admin: Any, unique: str) -> None:
    from claw_common.config.reader import get_config

    key = f"e2e.reader_{unique}"
    api.post(f"{API}/configs", json={"key": key, "value": "one"}, headers=admin.headers)
    assert get_config(key) == "one"
    api.put(f"{API}/configs/{key}", json={"value": "two", "version": 1}, headers=admin.headers)
    t0 = time.monotonic()
    wait_for(lambda: get_config(key) == "two", timeout=10)
    assert time.monotonic() - t0 < 10

    # Chat's default model comes from ai.default_model
    current = api.get(f"{API}/configs/ai.default_model", headers=admin.headers)
    if current.status_code == 404:
        resp = api.post(f"{API}/configs", json={"key": "ai.default_model", "value": "glm-4-air"}, headers=admin.headers)
        version = resp.json()["version"]
        previous = None
    else:
        previous = current.json()["value"]
        resp = api.put(
            f"{API}/configs/ai.default_model",
            json={"value": "glm-4-air", "version": current.json()["version"]},
            headers=admin.headers,
        )
        version = resp.json()["version"]
    assert resp.status_code in (200, 201), resp.text
    try:
        from claw_ai.runtime_config import default_model

        wait_for(lambda: default_model() == "glm-4-air", timeout=10)
    finally:
        if previous is None:
            api.delete(f"{API}/configs/ai.default_model", params={"version": version}, headers=admin.headers)
        else:
            api.put(
                f"{API}/configs/ai.default_model", json={"value": previous, "version": version}, headers=admin.headers
            )
