"""``GET /api/v1/rate-limit/status``: the caller's buckets, read without consuming a token.

The router lives in the layer; the config function includes it (the template routes the
path there).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from claw_common.errors import DependencyUnavailable
from claw_common.http.client_ip import client_ip
from claw_common.http.security import CallerDep
from claw_common.ratelimit.limiter import RateLimiterUnavailable, get_rate_limiter
from claw_common.ratelimit.policy import load_policy

router = APIRouter(tags=["rate limits"])


class BucketStatus(BaseModel):
    """One token bucket as it stands now."""

    scope: str = Field(description="global, user, ip, or route:<group> (conversations, messages, knowledge).")
    limit: int = Field(description="Capacity: requests allowed at once (the RateLimit-Limit header).")
    per_minute: float = Field(description="Steady refill rate, tokens per minute.")
    remaining: int = Field(description="Requests left now (the RateLimit-Remaining header).")
    reset: int = Field(description="Seconds until the bucket is full again (the RateLimit-Reset header).")


class RateLimitStatus(BaseModel):
    """The caller's rate limits."""

    user_id: str = Field(description="The caller.")
    tier: str = Field(description="The caller's tier (free, pro, enterprise): sizes the user bucket.")
    ip: str = Field(description="The client address as API Gateway saw it.")
    allow_listed: bool = Field(description="True when the address is on the allow list (no limits apply).")
    buckets: list[BucketStatus] = Field(description="Every bucket that applies to the caller.")


@router.get(
    "/rate-limit/status",
    response_model=RateLimitStatus,
    summary="The caller's rate limit buckets (this call counts as a request, the reading itself consumes nothing)",
)
def rate_limit_status(request: Request, caller: CallerDep) -> RateLimitStatus:
    """Global, user, IP and route-group buckets of the caller, peeked in one Redis call."""
    ip = client_ip(request.scope)
    policy = load_policy()
    try:
        decision = get_rate_limiter().check(policy.caller_buckets(caller, ip), consume=False)
    except RateLimiterUnavailable as exc:
        raise DependencyUnavailable("Rate limit state is unavailable right now; retry shortly.") from exc
    return RateLimitStatus(
        user_id=caller.user_id,
        tier=caller.tier,
        ip=ip,
        allow_listed=policy.is_allowed(ip),
        buckets=[
            BucketStatus(scope=b.scope, limit=b.limit, per_minute=b.per_minute, remaining=b.remaining, reset=b.reset_s)
            for b in decision.buckets
        ],
    )


__all__ = ["BucketStatus", "RateLimitStatus", "router"]
