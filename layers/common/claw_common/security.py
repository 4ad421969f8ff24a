"""The caller of an API request, taken only from the authorizer's context.

API Gateway puts what the Lambda authorizer returned under
``requestContext.authorizer``; a client cannot set it. Client headers such as
``X-User-Id`` are never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from claw_common.errors import Forbidden, Unauthorized

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
    return Caller(user_id=str(user_id), role=role, tier=tier, auth_method=str(context.get("auth_method") or ""))


def _event_of(request: Any) -> dict[str, Any]:
    return request.scope.get("aws.event") or {}


def current_caller(request: Any) -> Caller:
    """FastAPI dependency: the authenticated caller, or 401."""
    caller = caller_from_event(_event_of(request))
    if caller is None:
        raise Unauthorized("Authentication required.")
    return caller


def optional_caller(request: Any) -> Caller | None:
    """FastAPI dependency for public routes that behave differently for a known caller."""
    return caller_from_event(_event_of(request))


def require_admin(request: Any) -> Caller:
    """FastAPI dependency: the caller, who must be an admin (403 otherwise)."""
    caller = current_caller(request)
    if not caller.is_admin:
        raise Forbidden("This action requires the admin role.")
    return caller
