"""Token buckets against real Valkey, and the middleware on a real FastAPI app invoked with REST events."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from mangum import Mangum

from claw_common.http.app import create_app
from claw_common.observability import metrics
from claw_common.ratelimit.limiter import (
    Bucket,
    LimitSpec,
    RateLimiter,
    RateLimiterUnavailable,
    get_rate_limiter,
    policy_from_values,
)
from tests.ratelimit_helpers import (
    response_headers,
    response_json,
    rest_event,
    set_config_row,
    shared_redis,
    spare_valkey,
)
from tests.support.lambda_context import lambda_context

# ---------------------------------------------------------------------------- the limiter


@pytest.fixture()
def limiter(platform: Any) -> RateLimiter:
    return RateLimiter(shared_redis())


def _bucket(scope: str, per_minute: float, burst: int) -> Bucket:
    return Bucket(scope, f"rl:test:{scope}:{uuid.uuid4().hex}", LimitSpec(per_minute=per_minute, burst=burst))


def test_200_concurrent_requests_against_100_exactly_100_pass(limiter: RateLimiter) -> None:
    # Given a bucket of 100 that refills slowly (1/min), so refill during the burst cannot blur the count
    bucket = _bucket("user", per_minute=1, burst=100)

    # When 200 checks race from 32 threads
    with ThreadPoolExecutor(max_workers=32) as pool:
        decisions = list(pool.map(lambda _: limiter.check([bucket]), range(200)))

    # Then exactly 100 pass and 100 are refused, with consistent headers
    passed = [d for d in decisions if d.allowed]
    refused = [d for d in decisions if not d.allowed]
    assert len(passed) == 100 and len(refused) == 100
    assert sorted(int(d.headers()["RateLimit-Remaining"]) for d in passed) == list(range(100))
    for d in passed:
        assert d.headers()["RateLimit-Limit"] == "100" and "Retry-After" not in d.headers()
    for d in refused:
        headers = d.headers()
        assert headers["RateLimit-Limit"] == "100"
        assert headers["RateLimit-Remaining"] == "0"
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert int(headers["RateLimit-Reset"]) >= int(headers["Retry-After"])


def test_a_refused_request_costs_nothing_in_the_other_buckets(limiter: RateLimiter) -> None:
    roomy, tight = _bucket("user", 1, 5), _bucket("route:knowledge", 1, 1)
    assert limiter.check([roomy, tight]).allowed
    refused = limiter.check([roomy, tight])
    assert not refused.allowed
    assert refused.most_restrictive.scope == "route:knowledge"
    # Only the first request was taken from the roomy bucket.
    assert limiter.check([roomy], consume=False).buckets[0].remaining == 4


def test_peeking_does_not_consume(limiter: RateLimiter) -> None:
    bucket = _bucket("user", 1, 3)
    for _ in range(5):
        assert limiter.check([bucket], consume=False).buckets[0].remaining == 3
    assert limiter.check([bucket]).buckets[0].remaining == 2


def test_the_bucket_refills_at_the_configured_rate(limiter: RateLimiter) -> None:
    # Given 60/min (1 token a second) with a burst of 2, emptied
    bucket = _bucket("user", per_minute=60, burst=2)
    assert limiter.check([bucket]).allowed and limiter.check([bucket]).allowed
    refused = limiter.check([bucket])
    assert not refused.allowed and refused.retry_after_s == 1

    # When a little more than one second passes
    time.sleep(1.3)

    # Then one request (not two) fits again
    assert limiter.check([bucket]).allowed
    assert not limiter.check([bucket]).allowed


def test_idle_buckets_expire(limiter: RateLimiter) -> None:
    bucket = _bucket("ip", per_minute=60, burst=10)
    limiter.check([bucket])
    ttl_ms = shared_redis().pttl(bucket.key)
    # One token to refill at 1/s, plus a second of slack.
    assert 0 < ttl_ms <= 2000


def test_tiers_differ_as_configured(limiter: RateLimiter) -> None:
    from claw_common.auth.caller import Caller

    policy = policy_from_values(
        {"rate_limit.tiers": {"free": {"per_minute": 1, "burst": 3}, "pro": {"per_minute": 1, "burst": 6}}}
    )
    counts = {}
    for tier in ("free", "pro"):
        caller = Caller(user_id=f"tier-{uuid.uuid4().hex}", role="user", tier=tier, auth_method="jwt")
        buckets = [b for b in policy.buckets_for(caller, "198.51.100.1", None) if b.scope == "user"]
        counts[tier] = sum(limiter.check(buckets).allowed for _ in range(10))
    assert counts == {"free": 3, "pro": 6}


def test_outage_raises_unavailable_and_recovers(tmp_path: Path, platform: Any) -> None:
    with spare_valkey(tmp_path) as valkey:
        limiter = RateLimiter(valkey.client())
        bucket = _bucket("user", 1, 5)
        assert limiter.check([bucket]).buckets[0].remaining == 4

        valkey.stop()
        with pytest.raises(RateLimiterUnavailable):
            limiter.check([bucket])

        valkey.start()
        # A restarted server has an empty script cache: EVALSHA's NOSCRIPT is handled by reloading.
        assert limiter.check([bucket]).allowed


# ---------------------------------------------------------------------------- the middleware


def _app() -> Mangum:
    router = APIRouter()

    @router.get("/conversations")
    def conversations() -> dict[str, str]:
        return {"ok": "conversations"}

    @router.post("/auth/login")
    def login() -> dict[str, str]:
        return {"ok": "login"}

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"ok": "health"}

    app = create_app("rate limit test app")
    app.include_router(router, prefix="/api/v1")
    return Mangum(app, lifespan="off")


@pytest.fixture()
def handler(platform: Any) -> Mangum:
    return _app()


def _caller() -> dict[str, str]:
    return {"user_id": f"mw-{uuid.uuid4().hex}", "role": "user", "tier": "free"}


def _ip() -> str:
    n = uuid.uuid4().int
    return f"198.18.{(n >> 8) % 256}.{n % 254 + 1}"


def test_limited_responses_carry_ratelimit_headers_and_429_is_a_problem(handler: Mangum) -> None:
    caller, ip = _caller(), _ip()
    ok = handler(rest_event("/api/v1/conversations", caller=caller, source_ip=ip), lambda_context())
    headers = response_headers(ok)
    assert ok["statusCode"] == 200
    # The conversations group (60/min) is the tightest bucket of this request.
    assert (headers["ratelimit-limit"], headers["ratelimit-remaining"]) == ("60", "59")
    assert "x-request-id" in headers

    for _ in range(59):
        assert (
            handler(rest_event("/api/v1/conversations", caller=caller, source_ip=ip), lambda_context())["statusCode"]
            == 200
        )
    event = rest_event("/api/v1/conversations", caller=caller, source_ip=ip)
    refused = handler(event, lambda_context())
    headers = response_headers(refused)
    assert refused["statusCode"] == 429
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["retry-after"]) >= 1
    assert headers["ratelimit-remaining"] == "0" and headers["ratelimit-limit"] == "60"
    assert headers["x-request-id"] == event["requestContext"]["requestId"]
    body = response_json(refused)
    assert body["status"] == 429 and body["type"].endswith("/rate-limited")


def test_the_client_ip_comes_from_the_gateway_not_x_forwarded_for(handler: Mangum) -> None:
    set_config_row("rate_limit.deny_ips", ["198.19.7.7"])
    try:
        spoofed = rest_event("/api/v1/auth/login", "POST", source_ip=_ip(), headers={"X-Forwarded-For": "198.19.7.7"})
        assert handler(spoofed, lambda_context())["statusCode"] == 200
        denied = handler(rest_event("/api/v1/auth/login", "POST", source_ip="198.19.7.7"), lambda_context())
        assert denied["statusCode"] == 403
        assert response_json(denied)["type"].endswith("/forbidden")
    finally:
        set_config_row("rate_limit.deny_ips", None)


def test_login_is_limited_per_ip_and_health_never(handler: Mangum) -> None:
    ip = _ip()
    statuses = [
        handler(rest_event("/api/v1/auth/login", "POST", source_ip=ip), lambda_context())["statusCode"]
        for _ in range(21)
    ]
    assert statuses == [200] * 20 + [429]
    # Another address is not affected, and health stays open for the limited one.
    assert handler(rest_event("/api/v1/auth/login", "POST", source_ip=_ip()), lambda_context())["statusCode"] == 200
    health = handler(rest_event("/api/v1/health", source_ip=ip), lambda_context())
    assert health["statusCode"] == 200 and "ratelimit-limit" not in response_headers(health)


def test_allow_list_bypasses_every_limit(handler: Mangum) -> None:
    ip = _ip()
    set_config_row("rate_limit.allow_ips", [f"{ip.rsplit('.', 1)[0]}.0/24"])
    try:
        statuses = {
            handler(rest_event("/api/v1/auth/login", "POST", source_ip=ip), lambda_context())["statusCode"]
            for _ in range(25)
        }
        assert statuses == {200}
        last = handler(rest_event("/api/v1/auth/login", "POST", source_ip=ip), lambda_context())
        assert "ratelimit-limit" not in response_headers(last)
    finally:
        set_config_row("rate_limit.allow_ips", None)


def test_a_tier_limit_change_in_config_takes_effect(handler: Mangum) -> None:
    set_config_row("rate_limit.tiers", {"free": {"per_minute": 1, "burst": 3}})
    try:
        caller, ip = _caller(), _ip()
        response = handler(rest_event("/api/v1/auth/login", "POST", caller=caller, source_ip=ip), lambda_context())
        assert response_headers(response)["ratelimit-limit"] == "3"
    finally:
        set_config_row("rate_limit.tiers", None)


def test_redis_outage_fails_open_for_the_api_and_closed_for_login(handler: Mangum, tmp_path: Path) -> None:
    caller = _caller()
    with spare_valkey(tmp_path) as valkey, get_rate_limiter().using(valkey.client()):
        before = handler(rest_event("/api/v1/conversations", caller=caller, source_ip=_ip()), lambda_context())
        assert before["statusCode"] == 200 and "ratelimit-limit" in response_headers(before)

        valkey.stop()
        unavailable_before = sum(metrics.metric_set.get("RateLimiterUnavailable", {}).get("Value", []))
        api = handler(rest_event("/api/v1/conversations", caller=caller, source_ip=_ip()), lambda_context())
        # Fail open: the request is served, without rate limit headers, and the outage is counted.
        assert api["statusCode"] == 200 and "ratelimit-limit" not in response_headers(api)
        assert sum(metrics.metric_set.get("RateLimiterUnavailable", {}).get("Value", [])) > unavailable_before
        login = handler(rest_event("/api/v1/auth/login", "POST", source_ip=_ip()), lambda_context())
        # Fail closed: brute-force protection matters more than availability for login.
        assert login["statusCode"] == 503
        assert response_headers(login)["content-type"] == "application/problem+json"
        assert int(response_headers(login)["retry-after"]) >= 1
        assert response_json(login)["status"] == 503
        assert handler(rest_event("/api/v1/health", source_ip=_ip()), lambda_context())["statusCode"] == 200

        valkey.start()
        after = handler(rest_event("/api/v1/auth/login", "POST", source_ip=_ip()), lambda_context())
        assert after["statusCode"] == 200 and "ratelimit-limit" in response_headers(after)
