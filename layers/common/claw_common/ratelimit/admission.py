"""One rate-limit admission for every entry point: the HTTP middleware and the WebSocket chat action.

Per request: the deny list refuses (403), the allow list skips every limit, then the global,
user (by tier), IP and route-group buckets are checked in one Redis call. A refusal is a 429
with ``Retry-After``. When Redis is unavailable (down, hung, or its circuit breaker open),
API routes pass (fail open) with the ``RateLimiterUnavailable`` metric and a warning; route
groups marked ``fail_closed`` (login, register) answer 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from claw_common.errors import DependencyUnavailable, Forbidden, RateLimited
from claw_common.observability import MetricUnit, emit_metric, logger, metrics
from claw_common.ratelimit.limiter import RateLimiter, RateLimiterUnavailable, get_rate_limiter
from claw_common.ratelimit.policy import RateLimitPolicy, RouteGroup, load_policy

if TYPE_CHECKING:
    from claw_common.auth.caller import Caller

OUTAGE_RETRY_AFTER_S = 5
"""Seconds a client is told to wait when login/register fail closed during a Redis outage."""


@dataclass(frozen=True)
class Admission:
    """A request let through, with the ``RateLimit-*`` headers its response carries (none when unmetered)."""

    headers: dict[str, str] = field(default_factory=dict)


def admit(
    caller: Caller | None,
    ip: str,
    group: RouteGroup | None,
    *,
    limiter: Callable[[], RateLimiter] = get_rate_limiter,
    policy: Callable[[], RateLimitPolicy] = load_policy,
    path: str | None = None,
) -> Admission:
    """Admit one request or raise: ``Forbidden`` (deny list), ``RateLimited`` (429, with the
    bucket headers), ``DependencyUnavailable`` (503, a fail-closed group while Redis is unavailable)."""
    current = policy()
    if current.is_denied(ip):
        emit_metric("RequestsDenied", MetricUnit.Count, 1, scope="deny_list")
        logger.info("request from a denied address", extra={"path": path})
        raise Forbidden("Requests from this address are not allowed.")
    if current.is_allowed(ip):
        return Admission()
    try:
        decision = limiter().check(current.buckets_for(caller, ip, group))
    except RateLimiterUnavailable as exc:
        metrics.add_metric(name="RateLimiterUnavailable", unit=MetricUnit.Count, value=1)
        closed = group is not None and group.fail_closed
        logger.warning(
            "rate limiter unavailable; failing " + ("closed" if closed else "open"),
            extra={"path": path, "route_group": group.name if group else None, "error": str(exc)},
        )
        if closed:
            raise DependencyUnavailable(
                "This endpoint is temporarily unavailable; retry shortly.",
                headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
            ) from exc
        return Admission()
    headers = decision.headers()
    if not decision.allowed:
        refused_by = decision.most_restrictive
        # Plain (service only) for the dashboard and alarms; by bucket scope to see who limits.
        metrics.add_metric(name="RateLimited", unit=MetricUnit.Count, value=1)
        emit_metric("RateLimited", MetricUnit.Count, 1, scope=(refused_by.scope if refused_by else "unknown"))
        raise RateLimited(
            "Too many requests; retry after the time in the Retry-After header.",
            retry_after=decision.retry_after_s,
            headers=headers,
        )
    return Admission(headers)


__all__ = ["OUTAGE_RETRY_AFTER_S", "Admission", "admit"]
