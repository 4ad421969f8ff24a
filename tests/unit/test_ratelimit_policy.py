"""Rate limit policy: route groups, limits from config values, allow/deny lists, headers."""

from __future__ import annotations

import pytest

from claw_common.auth.caller import Caller
from claw_common.ratelimit.limiter import (
    DEFAULT_IP,
    BucketState,
    Decision,
    LimitSpec,
    is_unlimited_path,
    policy_from_values,
    route_group_for,
)

ALICE = Caller(user_id="42", role="user", tier="free", auth_method="jwt")
PRO = Caller(user_id="43", role="user", tier="pro", auth_method="jwt")


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/api/v1/conversations", "conversations"),
        ("/api/v1/conversations/", "conversations"),
        ("/api/v1/conversations/abc", "conversations"),
        ("/api/v1/conversations/abc/messages", "messages"),
        ("/api/v1/conversations/abc/chat", "messages"),
        ("/api/v1/knowledge", "knowledge"),
        ("/api/v1/knowledge/kb1/documents/d1/chunks", "knowledge"),
        ("/api/v1/knowledge/query", "knowledge"),
        ("/api/v1/auth/register", "register"),
        ("/api/v1/auth/login", "login"),
        ("/api/v1/auth/me", None),
        ("/api/v1/configs/public", None),
        ("/api/v1/conversationsX", None),
        ("/api/v1/usage", None),
    ],
)
def test_route_groups_by_path(path: str, group: str | None) -> None:
    found = route_group_for(path)
    assert (found.name if found else None) == group


@pytest.mark.parametrize(
    ("method", "path", "group"),
    [
        ("POST", "/api/v1/knowledge/kb1/documents/upload", "knowledge"),
        ("POST", "/api/v1/knowledge/kb1/documents", "knowledge"),
        ("POST", "/api/v1/knowledge/kb1/documents/upload-url", "knowledge"),
        ("DELETE", "/api/v1/knowledge/kb1", "knowledge"),
        ("GET", "/api/v1/knowledge/kb1/documents", "knowledge_reads"),
        ("GET", "/api/v1/knowledge/kb1/documents/d1", "knowledge_reads"),
        ("POST", "/api/v1/knowledge/kb1/query", "knowledge_reads"),
        ("POST", "/api/v1/knowledge/query", "knowledge_reads"),
    ],
)
def test_listing_and_status_polling_do_not_spend_the_upload_budget(method: str, path: str, group: str) -> None:
    found = route_group_for(path, method)
    assert found is not None and found.name == group


def test_login_and_register_fail_closed_api_groups_fail_open() -> None:
    assert route_group_for("/api/v1/auth/login").fail_closed
    assert route_group_for("/api/v1/auth/register").fail_closed
    assert not route_group_for("/api/v1/conversations").fail_closed
    assert not route_group_for("/api/v1/knowledge").fail_closed


def test_health_is_never_limited() -> None:
    assert is_unlimited_path("/api/v1/health")
    assert not is_unlimited_path("/api/v1/configs/public")


def test_defaults_follow_the_spec() -> None:
    policy = policy_from_values({})
    assert {t: policy.tiers[t].capacity for t in ("free", "pro", "enterprise")} == {
        "free": 100,
        "pro": 500,
        "enterprise": 2000,
    }
    assert policy.ip.capacity == 200
    assert {g: policy.routes[g].per_minute for g in ("conversations", "messages", "knowledge")} == {
        "conversations": 60,
        "messages": 120,
        "knowledge": 30,
    }
    assert policy.routes["register"].per_minute < policy.routes["login"].per_minute < policy.ip.per_minute


def test_a_request_draws_from_global_user_ip_and_its_route_group() -> None:
    policy = policy_from_values({})
    buckets = policy.buckets_for(ALICE, "198.51.100.7", route_group_for("/api/v1/conversations/c1/messages"))
    assert [(b.scope, b.key, b.limit.capacity) for b in buckets] == [
        ("global", "rl:global", 1000),
        ("user", "rl:user:42", 100),
        ("ip", "rl:ip:198.51.100.7", 200),
        ("route:messages", "rl:route:messages:user:42", 120),
    ]


def test_login_bucket_is_per_ip() -> None:
    policy = policy_from_values({})
    buckets = policy.buckets_for(None, "198.51.100.7", route_group_for("/api/v1/auth/login"))
    assert [b.key for b in buckets] == ["rl:global", "rl:ip:198.51.100.7", "rl:route:login:ip:198.51.100.7"]


def test_configured_tiers_override_defaults_and_keep_the_rest() -> None:
    policy = policy_from_values({"rate_limit.tiers": {"pro": {"per_minute": 900, "burst": 50}}})
    assert policy.tier_limit("pro") == LimitSpec(per_minute=900, burst=50)
    assert policy.tier_limit("free").capacity == 100
    pro_user_bucket = policy.buckets_for(PRO, "198.51.100.7", None)[1]
    assert (pro_user_bucket.scope, pro_user_bucket.limit.capacity) == ("user", 50)


def test_invalid_config_falls_back_to_defaults() -> None:
    policy = policy_from_values(
        {"rate_limit.ip": {"per_minute": -5}, "rate_limit.tiers": "lots", "rate_limit.deny_ips": ["not-an-ip"]}
    )
    assert policy.ip == DEFAULT_IP
    assert policy.tier_limit("free").capacity == 100
    assert not policy.is_denied("198.51.100.7")


def test_allow_and_deny_lists_take_ips_and_cidrs() -> None:
    policy = policy_from_values(
        {"rate_limit.allow_ips": ["10.0.0.0/8", "2001:db8::1"], "rate_limit.deny_ips": ["203.0.113.9"]}
    )
    assert policy.is_allowed("10.1.2.3")
    assert policy.is_allowed("2001:db8::1")
    assert not policy.is_allowed("11.0.0.1")
    assert policy.is_denied("203.0.113.9")
    assert not policy.is_denied("203.0.113.10")
    assert not policy.is_denied("garbage")


def test_test_stage_does_not_meter_the_suites_shared_loopback_address() -> None:
    policy = policy_from_values({}, stage="test")
    assert [b.scope for b in policy.buckets_for(ALICE, "127.0.0.1", route_group_for("/api/v1/auth/login"))] == [
        "global",
        "user",
    ]
    assert "ip" in [b.scope for b in policy.buckets_for(ALICE, "127.0.0.2", None)]
    assert "ip" in [b.scope for b in policy_from_values({}, stage="prod").buckets_for(ALICE, "127.0.0.1", None)]


def test_headers_show_the_most_restrictive_bucket() -> None:
    allowed = Decision(
        True,
        (
            BucketState("global", 1000, 30000, 990, 1, 0),
            BucketState("user", 100, 100, 7, 56, 0),
            BucketState("ip", 200, 200, 150, 15, 0),
        ),
    )
    assert allowed.headers() == {"RateLimit-Limit": "100", "RateLimit-Remaining": "7", "RateLimit-Reset": "56"}
    refused = Decision(
        False,
        (BucketState("user", 100, 100, 3, 60, 0), BucketState("route:knowledge", 30, 30, 0, 60, 2)),
    )
    assert refused.headers() == {
        "RateLimit-Limit": "30",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "60",
        "Retry-After": "2",
    }


def test_register_and_login_limits_come_from_rate_limit_auth() -> None:
    policy = policy_from_values(
        {
            "rate_limit.routes": {"conversations": {"per_minute": 10}},
            "rate_limit.auth": {"register": {"per_minute": 3}, "login": {"per_minute": 5, "burst": 2}},
        }
    )
    assert policy.routes["conversations"].capacity == 10
    assert policy.routes["messages"].capacity == 120
    assert (policy.routes["register"].capacity, policy.routes["login"].capacity) == (3, 2)
