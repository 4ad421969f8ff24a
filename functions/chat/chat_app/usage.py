"""Route of /usage: tokens and cost by day and model."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from chat_app import usage_logic as logic
from chat_app.models import UUID_PATTERN, UsageReport
from claw_common.http.security import CallerDep

router = APIRouter(tags=["usage"])


@router.get("/usage", response_model=UsageReport, summary="Tokens and cost by day and model, with the month's quota")
def usage(
    caller: CallerDep,
    start: Annotated[date | None, Query(description="First day (UTC), default 29 days before end.")] = None,
    end: Annotated[date | None, Query(description="Last day (UTC), default today.")] = None,
    user_id: Annotated[str | None, Query(pattern=UUID_PATTERN, description="Another user (admins only).")] = None,
) -> Any:
    return logic.usage_report(caller, user_id=user_id, start=start, end=end)
