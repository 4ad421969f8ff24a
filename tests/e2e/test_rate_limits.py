"""Rate limits through the local gateway: headers, 429s, config changes, allow/deny lists, Redis outage.

The suite's own traffic comes from 127.0.0.1, which the ``test`` stage does not IP-meter;
these tests bind other loopback addresses (127.x.y.z) so their IP buckets are their own.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from claw_common.ratelimit.limiter import get_rate_limiter
from tests.auth_helpers import new_user
from tests.conftest import wait_for
from tests.ratelimit_helpers import spare_valkey

pytestmark = pytest.mark.e2e

API = "/api/v1"
STATUS = f"{API}/rate-limit/status"


def _loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"


@contextmanager
def client_from(platform: Any, ip: str | None = None) -> Iterator[httpx.Client]:
    """An HTTP client whose connections come from its own loopback address (its own IP bucket)."""
    transport = httpx.HTTPTransport(local_address=ip or _loopback())
    with httpx.Client(base_url=platform.gateway_url, transport=transport, timeout=30) as client:
        yield client


def set_config(api: httpx.Client, admin: Any, key: str, value: Any) -> None:
    current = api.get(f"{API}/configs/{key}", headers=admin.headers)
    if current.status_code == 200:
        resp = api.put(
            f"{API}/configs/{key}", json={"value": value, "version": current.json()["version"]}, headers=admin.headers
        )
        assert resp.status_code == 200, resp.text
    else:
        resp = api.post(f"{API}/configs", json={"key": key, "value": value}, headers=admin.headers)
        assert resp.status_code == 201, resp.text


def delete_config(api: httpx.Client, admin: Any, key: str) -> None:
    current = api.get(f"{API}/configs/{key}", headers=admin.headers)
    if current.status_code == 200:
        resp = api.delete(f"{API}/configs/{key}", params={"version": current.json()["version"]}, headers=admin.headers)
        assert resp.status_code == 204, resp.text


@pytest.fixture()
def admin(api: httpx.Client) -> Any:
    return new_user(api, admin=True)


def _user_bucket(client: httpx.Client, user: Any) -> dict[str, Any]:
    resp = client.get(STATUS, headers=user.headers)
    assert resp.status_code == 200, resp.text
    return next(b for b in resp.json()["buckets"] if b["scope"] == "user")


def test_status_shows_the_callers_buckets_with_ratelimit_headers(platform: Any, api: httpx.Client) -> None:
    user = new_user(api)
    ip = _loopback()
    with client_from(platform, ip) as client:
        resp = client.get(STATUS, headers=user.headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-request-id"]
    assert int(resp.headers["ratelimit-limit"]) >= 1
    assert int(resp.headers["ratelimit-remaining"]) >= 0
    assert int(resp.headers["ratelimit-reset"]) >= 0
    body = resp.json()
    assert (body["user_id"], body["tier"], body["ip"], body["allow_listed"]) == (user.id, "free", ip, False)
    buckets = {b["scope"]: b for b in body["buckets"]}
    assert set(buckets) == {
        *("global", "user", "ip", "route:conversations", "route:messages"),
        *("route:knowledge", "route:knowledge_reads"),
    }
    # This request took one token from the user's and the IP's bucket; reading took none.
    assert (buckets["user"]["limit"], buckets["user"]["remaining"]) == (100, 99)
    assert (buckets["ip"]["limit"], buckets["ip"]["remaining"]) == (200, 199)
    assert buckets["route:knowledge"]["remaining"] == buckets["route:knowledge"]["limit"] == 30


def test_status_requires_a_caller(api: httpx.Client) -> None:
    assert api.get(STATUS).status_code == 401


def test_200_concurrent_requests_against_100_exactly_100_pass(platform: Any, api: httpx.Client, admin: Any) -> None:
    # Given the pro tier sized 100 with a slow refill (so the count is exact), seen by the API
    tiers = {
        "free": {"per_minute": 100, "burst": 100},
        "pro": {"per_minute": 1, "burst": 100},
        "enterprise": {"per_minute": 2000, "burst": 2000},
    }
    set_config(api, admin, "rate_limit.tiers", tiers)
    try:
        probe = new_user(api, tier="pro")
        wait_for(lambda: _user_bucket(api, probe)["per_minute"] == 1, timeout=15)
        user = new_user(api, tier="pro")

        # When 200 requests race through the gateway from one address
        with client_from(platform) as client, ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(pool.map(lambda _: client.get(STATUS, headers=user.headers), range(200)))

        # Then exactly 100 pass and 100 are refused, each with the right headers
        ok = [r for r in responses if r.status_code == 200]
        limited = [r for r in responses if r.status_code == 429]
        assert (len(ok), len(limited)) == (100, 100), sorted({r.status_code for r in responses})
        assert sorted(int(r.headers["ratelimit-remaining"]) for r in ok) == list(range(100))
        for r in ok:
            assert r.headers["ratelimit-limit"] == "100"
        for r in limited:
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["ratelimit-limit"] == "100" and r.headers["ratelimit-remaining"] == "0"
            assert int(r.headers["retry-after"]) >= 1 and int(r.headers["ratelimit-reset"]) >= 1
            assert r.headers["x-request-id"]
            assert r.json()["status"] == 429
    finally:
        delete_config(api, admin, "rate_limit.tiers")


def test_a_tier_limit_change_through_the_config_api_takes_effect_within_seconds(api: httpx.Client, admin: Any) -> None:
    pro, free = new_user(api, tier="pro"), new_user(api)
    assert _user_bucket(api, pro)["limit"] == 500
    set_config(
        api,
        admin,
        "rate_limit.tiers",
        {"free": {"per_minute": 100}, "pro": {"per_minute": 700, "burst": 7}, "enterprise": {"per_minute": 2000}},
    )
    try:
        wait_for(lambda: _user_bucket(api, pro)["limit"] == 7, timeout=10)
        assert _user_bucket(api, free)["limit"] == 100
    finally:
        delete_config(api, admin, "rate_limit.tiers")
    wait_for(lambda: _user_bucket(api, pro)["limit"] == 500, timeout=10)


def test_deny_and_allow_lists_through_the_config_api_take_effect_within_seconds(
    platform: Any, api: httpx.Client, admin: Any
) -> None:
    denied_ip, allowed_ip = _loopback(), _loopback()
    with client_from(platform, denied_ip) as denied, client_from(platform, allowed_ip) as allowed:
        assert denied.get(f"{API}/configs/public").status_code == 200
        assert "ratelimit-limit" in allowed.get(f"{API}/configs/public").headers

        set_config(api, admin, "rate_limit.deny_ips", [denied_ip])
        set_config(api, admin, "rate_limit.allow_ips", [f"{allowed_ip}/32"])
        try:
            refused = wait_for(lambda: (r := denied.get(f"{API}/configs/public")).status_code == 403 and r, 10)
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["x-request-id"]
            # The allow-listed address is not limited at all: no RateLimit headers.
            wait_for(lambda: "ratelimit-limit" not in allowed.get(f"{API}/configs/public").headers, 10)
            assert allowed.get(f"{API}/configs/public").status_code == 200
        finally:
            delete_config(api, admin, "rate_limit.deny_ips")
            delete_config(api, admin, "rate_limit.allow_ips")
        wait_for(lambda: denied.get(f"{API}/configs/public").status_code == 200, 10)


def test_register_is_limited_per_ip(platform: Any) -> None:
    # Invalid bodies answer 422 without creating users, but each attempt still counts.
    with client_from(platform) as client:
        statuses = [client.post(f"{API}/auth/register", json={}).status_code for _ in range(11)]
        limited = client.post(f"{API}/auth/register", json={})
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    with client_from(platform) as other:
        assert other.post(f"{API}/auth/register", json={}).status_code == 422


def test_health_is_not_rate_limited(platform: Any) -> None:
    with client_from(platform) as client:
        resp = client.get(f"{API}/health")
    assert resp.status_code == 200 and "ratelimit-limit" not in resp.headers


def test_valkey_outage_fails_open_for_the_api_closed_for_login_and_recovers(
    platform: Any, api: httpx.Client, tmp_path: Path
) -> None:
    user = new_user(api)
    with spare_valkey(tmp_path) as valkey, get_rate_limiter().using(valkey.client()), client_from(platform) as client:
        assert "ratelimit-limit" in client.get(f"{API}/configs/public").headers

        valkey.stop()
        # API requests pass, unmetered.
        public = client.get(f"{API}/configs/public")
        assert public.status_code == 200 and "ratelimit-limit" not in public.headers
        me = client.get(f"{API}/auth/me", headers=user.headers)
        assert me.status_code == 200
        # Login fails closed: a clear 503, never a 500.
        login = client.post(f"{API}/auth/login", json={"email": user.email, "password": user.password})
        assert login.status_code == 503
        assert login.headers["content-type"] == "application/problem+json"
        assert int(login.headers["retry-after"]) >= 1 and login.headers["x-request-id"]
        assert client.get(f"{API}/health").status_code == 200

        valkey.start()
        login = client.post(f"{API}/auth/login", json={"email": user.email, "password": user.password})
        assert login.status_code == 200 and "ratelimit-limit" in login.headers
