"""Rate limit policy: bucket sizes, route groups, allow and deny lists, resolved from config.

Limits come from config keys (``rate_limit.*``, read through ``claw_common.config.reader``)
with the SPEC's defaults; see ``docs/rate-limits.md``. ``RateLimitPolicy.buckets_for`` says
which buckets one request draws from; ``claw_common.ratelimit.limiter`` checks them in Redis.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from claw_common.observability import logger

if TYPE_CHECKING:
    from claw_common.auth.caller import Caller

KEY_PREFIX = "rl:"


class LimitSpec(BaseModel):
    """One bucket's size: a steady rate per minute and a burst (the bucket's capacity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: float = Field(gt=0, le=10_000_000, description="Tokens added per minute (the steady rate).")
    burst: int | None = Field(
        None, ge=1, le=10_000_000, description="Capacity: requests allowed at once; default = per_minute."
    )

    @property
    def capacity(self) -> int:
        """The bucket's size (``burst``, or the per-minute rate rounded up)."""
        if self.burst is not None:
            return self.burst
        return max(1, int(-(-self.per_minute // 1)))

    @property
    def tokens_per_ms(self) -> float:
        return self.per_minute / 60_000.0


DEFAULT_TIERS: dict[str, LimitSpec] = {
    "free": LimitSpec(per_minute=100, burst=100),
    "pro": LimitSpec(per_minute=500, burst=500),
    "enterprise": LimitSpec(per_minute=2000, burst=2000),
}
DEFAULT_IP = LimitSpec(per_minute=200, burst=200)
DEFAULT_ROUTES: dict[str, LimitSpec] = {
    "conversations": LimitSpec(per_minute=60),
    "messages": LimitSpec(per_minute=120),
    "knowledge": LimitSpec(per_minute=30),
    # Reading a knowledge base (listing, polling a document's status, searching) has its own
    # budget, so a folder of uploads plus its status polling never runs out of either.
    "knowledge_reads": LimitSpec(per_minute=120),
    "register": LimitSpec(per_minute=10),
    "login": LimitSpec(per_minute=20),
    # Assistants' public routes, per client IP (visitors have no account): sessions are cheap
    # to mint, so their own bucket stops one address from minting fresh per-visitor buckets.
    "assistant_sessions": LimitSpec(per_minute=20),
    "assistant_chat": LimitSpec(per_minute=60),
}
# Same as the template's stage throttling defaults (500 rps, burst 1000): the Redis global
# bucket is the second line, counting across every function.
DEFAULT_GLOBAL = LimitSpec(per_minute=30_000, burst=1000)

CONFIG_KEYS = (
    "rate_limit.tiers",
    "rate_limit.ip",
    "rate_limit.routes",
    "rate_limit.auth",
    "rate_limit.global",
    "rate_limit.allow_ips",
    "rate_limit.deny_ips",
)

_LIMIT_MAP = TypeAdapter(dict[str, LimitSpec])
_IP_LIST = TypeAdapter(list[str])

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RouteGroup:
    """A family of routes with a bucket of its own.

    ``per`` says whose bucket it is (the caller's, or the client IP's for public routes such
    as login). ``fail_closed`` says what happens when Redis is down: API routes pass (fail
    open) but login and register answer 503, because brute-force protection matters more
    there than availability. The auth function's login lockout reads the same flag.
    """

    name: str
    per: Literal["caller", "ip"]
    fail_closed: bool = False


ROUTE_GROUPS: dict[str, RouteGroup] = {
    "conversations": RouteGroup("conversations", "caller"),
    "messages": RouteGroup("messages", "caller"),
    "knowledge": RouteGroup("knowledge", "caller"),
    "knowledge_reads": RouteGroup("knowledge_reads", "caller"),
    "register": RouteGroup("register", "ip", fail_closed=True),
    "login": RouteGroup("login", "ip", fail_closed=True),
    "assistant_sessions": RouteGroup("assistant_sessions", "ip"),
    "assistant_chat": RouteGroup("assistant_chat", "ip"),
}

_PREFIX = "/api/v1"
_MESSAGES = re.compile(rf"^{_PREFIX}/conversations/[^/]+/(messages|chat)(/.*)?$")
_ASSISTANT_PUBLIC = re.compile(rf"^{_PREFIX}/public/assistants/[^/]+/(sessions|chat|feedback)$")
# Searches read too, though they are POSTs.
_KNOWLEDGE_SEARCH = re.compile(rf"^{_PREFIX}/knowledge(/[^/]+)?/query$")
_UNLIMITED_PATHS = frozenset({f"{_PREFIX}/health"})


def route_group_for(path: str, method: str | None = None) -> RouteGroup | None:
    """The route group of a request, or None when only the user/IP/global buckets apply.

    Without ``method`` a knowledge path counts as a write (the "knowledge" group)."""
    path = path.rstrip("/") or "/"
    if path == f"{_PREFIX}/auth/register":
        return ROUTE_GROUPS["register"]
    if path == f"{_PREFIX}/auth/login":
        return ROUTE_GROUPS["login"]
    if _MESSAGES.match(path):
        return ROUTE_GROUPS["messages"]
    public = _ASSISTANT_PUBLIC.match(path)
    if public:
        return ROUTE_GROUPS["assistant_sessions" if public.group(1) == "sessions" else "assistant_chat"]
    if path == f"{_PREFIX}/conversations" or path.startswith(f"{_PREFIX}/conversations/"):
        return ROUTE_GROUPS["conversations"]
    if path == f"{_PREFIX}/knowledge" or path.startswith(f"{_PREFIX}/knowledge/"):
        reads = method is not None and (method.upper() in ("GET", "HEAD") or _KNOWLEDGE_SEARCH.match(path))
        return ROUTE_GROUPS["knowledge_reads" if reads else "knowledge"]
    return None


def is_unlimited_path(path: str) -> bool:
    """Paths never rate limited (the health check: load balancers and alarms poll it)."""
    return (path.rstrip("/") or "/") in _UNLIMITED_PATHS


@dataclass(frozen=True)
class Bucket:
    """One bucket a request draws from: its name for clients, its Redis key and its size."""

    scope: str
    key: str
    limit: LimitSpec


@dataclass(frozen=True)
class RateLimitPolicy:
    """Every limit in force, resolved from config (a snapshot; cheap to rebuild)."""

    tiers: dict[str, LimitSpec]
    ip: LimitSpec
    routes: dict[str, LimitSpec]
    global_: LimitSpec
    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()
    # Addresses whose IP-keyed buckets are not kept (see ``_unmetered_ips``).
    unmetered_ips: frozenset[str] = frozenset()

    def is_denied(self, ip: str) -> bool:
        """True when ``ip`` is on the deny list."""
        return _in_networks(ip, self.deny)

    def is_allowed(self, ip: str) -> bool:
        """True when ``ip`` is on the allow list (no limits at all)."""
        return _in_networks(ip, self.allow)

    def tier_limit(self, tier: str) -> LimitSpec:
        return self.tiers.get(tier) or self.tiers.get("free") or DEFAULT_TIERS["free"]

    def buckets_for(self, caller: Caller | None, ip: str, group: RouteGroup | None) -> list[Bucket]:
        """The buckets one request draws from, most general first."""
        buckets = [Bucket("global", f"{KEY_PREFIX}global", self.global_)]
        if caller is not None:
            buckets.append(Bucket("user", f"{KEY_PREFIX}user:{caller.user_id}", self.tier_limit(caller.tier)))
        metered_ip = ip not in self.unmetered_ips
        if metered_ip:
            buckets.append(Bucket("ip", f"{KEY_PREFIX}ip:{ip}", self.ip))
        if group is not None and group.name in self.routes:
            if group.per == "caller" and caller is not None:
                owner = f"user:{caller.user_id}"
            elif metered_ip:
                owner = f"ip:{ip}"
            else:
                owner = None
            if owner is not None:
                buckets.append(
                    Bucket(f"route:{group.name}", f"{KEY_PREFIX}route:{group.name}:{owner}", self.routes[group.name])
                )
        return buckets

    def caller_buckets(self, caller: Caller, ip: str) -> list[Bucket]:
        """Every bucket of ``caller`` (for the status route): global, user, IP and each caller route group."""
        buckets = self.buckets_for(caller, ip, None)
        for group in ROUTE_GROUPS.values():
            if group.per == "caller" and group.name in self.routes:
                buckets.append(
                    Bucket(
                        f"route:{group.name}",
                        f"{KEY_PREFIX}route:{group.name}:user:{caller.user_id}",
                        self.routes[group.name],
                    )
                )
        return buckets


def visitor_bucket(assistant_public_id: str, visitor_id: str, per_minute: int) -> Bucket:
    """The bucket of one visitor of one assistant, sized by the assistant's own setting
    (``visitor_rate_limit_per_minute``): the per-IP ``assistant_chat`` group is checked by the
    middleware, this one by the assistants function once it knows the visitor."""
    return Bucket(
        "visitor",
        f"{KEY_PREFIX}visitor:{assistant_public_id}:{visitor_id}",
        LimitSpec(per_minute=per_minute, burst=per_minute),
    )


def _in_networks(ip: str, networks: tuple[Network, ...]) -> bool:
    if not networks:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr.version == net.version and addr in net for net in networks)


def _parse_networks(key: str, raw: Any) -> tuple[Network, ...]:
    if raw is None:
        return ()
    try:
        items = _IP_LIST.validate_python(raw)
    except ValidationError:
        logger.warning("ignoring an invalid rate limit IP list", extra={"config_key": key})
        return ()
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            logger.warning("ignoring an invalid IP or CIDR", extra={"config_key": key, "entry": item[:64]})
    return tuple(networks)


def _parse_limits(key: str, raw: Any, defaults: dict[str, LimitSpec]) -> dict[str, LimitSpec]:
    if raw is None:
        return dict(defaults)
    try:
        parsed = _LIMIT_MAP.validate_python(raw)
    except ValidationError:
        logger.warning("ignoring an invalid rate limit config; using defaults", extra={"config_key": key})
        return dict(defaults)
    # A config that names only some tiers or groups keeps the defaults of the others.
    return {**defaults, **parsed}


def _parse_limit(key: str, raw: Any, default: LimitSpec) -> LimitSpec:
    if raw is None:
        return default
    try:
        return LimitSpec.model_validate(raw)
    except ValidationError:
        logger.warning("ignoring an invalid rate limit config; using the default", extra={"config_key": key})
        return default


def _route_limits(routes: Any, auth: Any) -> dict[str, LimitSpec]:
    """Route-group limits: API groups from ``rate_limit.routes``, register/login from ``rate_limit.auth``."""
    limits = _parse_limits("rate_limit.routes", routes, DEFAULT_ROUTES)
    auth_limits = _parse_limits("rate_limit.auth", auth, {})
    limits.update({name: spec for name, spec in auth_limits.items() if name in ("register", "login")})
    return limits


def _unmetered_ips(stage: str) -> frozenset[str]:
    """Loopback addresses whose IP buckets are not kept, in the ``test`` stage only.

    The whole test suite drives the platform from 127.0.0.1, so one shared IP bucket (and
    the 10/min register bucket) would make unrelated tests fail by volume. Tests of IP limits
    bind other loopback addresses (127.0.0.2 …), which are limited as usual. User, route and
    global buckets always apply.
    """
    return frozenset({"127.0.0.1", "::1"}) if stage == "test" else frozenset()


@lru_cache(maxsize=16)
def _policy_from_json(raw_json: str, stage: str) -> RateLimitPolicy:
    raw = dict(zip(CONFIG_KEYS, json.loads(raw_json), strict=True))
    return RateLimitPolicy(
        tiers=_parse_limits("rate_limit.tiers", raw["rate_limit.tiers"], DEFAULT_TIERS),
        ip=_parse_limit("rate_limit.ip", raw["rate_limit.ip"], DEFAULT_IP),
        routes=_route_limits(raw["rate_limit.routes"], raw["rate_limit.auth"]),
        global_=_parse_limit("rate_limit.global", raw["rate_limit.global"], DEFAULT_GLOBAL),
        allow=_parse_networks("rate_limit.allow_ips", raw["rate_limit.allow_ips"]),
        deny=_parse_networks("rate_limit.deny_ips", raw["rate_limit.deny_ips"]),
        unmetered_ips=_unmetered_ips(stage),
    )


def policy_from_values(values: dict[str, Any], stage: str = "local") -> RateLimitPolicy:
    """The policy for raw config values (``{config key: JSON value or None}``); unset keys use defaults."""
    raw = [values.get(key) for key in CONFIG_KEYS]
    return _policy_from_json(json.dumps(raw, sort_keys=True, default=str), stage)


def load_policy() -> RateLimitPolicy:
    """The policy in force now, from config (cached in-process for seconds by the config reader).

    Never raises: when the config store is unreachable the defaults apply (with a warning).
    """
    from claw_common.config.reader import get_config
    from claw_common.errors import ClawError
    from claw_common.settings import get_settings

    values: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        try:
            values[key] = get_config(key)
        except ClawError as exc:
            logger.warning(
                "rate limit config unavailable; using defaults", extra={"config_key": key, "error": exc.slug}
            )
            values[key] = None
    return policy_from_values(values, get_settings().stage)


__all__ = [
    "DEFAULT_GLOBAL",
    "DEFAULT_IP",
    "DEFAULT_ROUTES",
    "DEFAULT_TIERS",
    "KEY_PREFIX",
    "ROUTE_GROUPS",
    "Bucket",
    "LimitSpec",
    "RateLimitPolicy",
    "RouteGroup",
    "is_unlimited_path",
    "load_policy",
    "policy_from_values",
    "route_group_for",
    "visitor_bucket",
]
