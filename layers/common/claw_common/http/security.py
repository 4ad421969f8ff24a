"""FastAPI dependencies for the caller of a request (see ``claw_common.auth.caller``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import Request

from claw_common.auth.caller import Caller, caller_from_event, verified_caller
from claw_common.errors import Forbidden, Unauthorized


def _event_of(request: Request) -> dict[str, Any]:
    return request.scope.get("aws.event") or {}


def current_caller(request: Request) -> Caller:
    """FastAPI dependency: the authenticated, still active caller (current role and tier), or 401."""
    caller = caller_from_event(_event_of(request))
    if caller is None:
        raise Unauthorized("Authentication required.")
    return verified_caller(caller)


def optional_caller(request: Request) -> Caller | None:
    """FastAPI dependency for public routes that behave differently for a known caller."""
    caller = caller_from_event(_event_of(request))
    if caller is None:
        return None
    try:
        return verified_caller(caller)
    except Unauthorized:
        return None


def require_admin(request: Request) -> Caller:
    """FastAPI dependency: the caller, who must be an admin (403 otherwise)."""
    caller = current_caller(request)
    if not caller.is_admin:
        raise Forbidden("This action requires the admin role.")
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
"""A route parameter for the authenticated caller."""
AdminDep = Annotated[Caller, Depends(require_admin)]
"""A route parameter for the authenticated admin (403 for anyone else)."""
OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
"""A route parameter for a caller who may be anonymous."""
