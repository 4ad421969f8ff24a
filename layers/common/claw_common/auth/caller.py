"""The caller of an API request, taken only from the authorizer's context.

API Gateway puts what the Lambda authorizer returned under
``requestContext.authorizer``; a client cannot set it. Client headers such as
``X-User-Id`` are never read.

Defense in depth: API Gateway caches the authorizer's verdict (``AuthorizerCacheTtl``,
300 s), so a user disabled, demoted or whose API key was revoked after the verdict would
still get through the gateway until it expires. ``current_caller`` therefore also checks
the caller's current state (active flag, role, tier; the API key when one was used)
through ``claw_common.auth.accounts``: a Redis entry of ~30 s that the auth API deletes on
every change, else one indexed database read. The role and tier it returns are the
current ones, not the token's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from claw_common.errors import Unauthorized

Role = Literal["user", "admin"]
Tier = Literal["free", "pro", "enterprise"]
ROLES: tuple[str, ...] = ("user", "admin")
TIERS: tuple[str, ...] = ("free", "pro", "enterprise")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the authorizer's verdict."""

    user_id: str
    role: str
    tier: str
    auth_method: str
    api_key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def caller_from_event(event: dict[str, Any]) -> Caller | None:
    """The caller in an API Gateway (REST or WebSocket) event, or None on a public route."""
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    user_id = context.get("user_id")
    if not user_id:
        return None
    role = str(context.get("role") or "user")
    tier = str(context.get("tier") or "free")
    if role not in ROLES or tier not in TIERS:
        return None
    return Caller(
        user_id=str(user_id),
        role=role,
        tier=tier,
        auth_method=str(context.get("auth_method") or ""),
        api_key_id=str(context.get("api_key_id") or "") or None,
    )


def verified_caller(caller: Caller) -> Caller:
    """The caller with its current role and tier; 401 when the account is disabled or
    gone, or the API key used has been revoked since the authorizer's verdict was cached."""
    from dataclasses import replace

    from claw_common.auth.accounts import api_key_active, user_state

    state = user_state(caller.user_id)
    if not state.active:
        raise Unauthorized("This account is disabled or no longer exists.")
    if caller.api_key_id is not None and not api_key_active(caller.api_key_id, caller.user_id):
        raise Unauthorized("This API key has been revoked.")
    if state.role == caller.role and state.tier == caller.tier:
        return caller
    return replace(caller, role=state.role, tier=state.tier)
