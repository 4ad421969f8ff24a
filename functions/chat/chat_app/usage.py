"""Route of /usage: tokens and cost by day and model."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Query

from chat_app import usage_logic as logic
from chat_app.models import UUID_PATTERN, UsageReport
from claw_common.http.app import api_router
from claw_common.http.security import CallerDep

router = api_router(tags=["usage"])

# Days a usage report may name: the ranges are computed with dates, which end at year 9999.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(9998, 12, 31)


@router.get("/usage", response_model=UsageReport, summary="Tokens and cost by day and model, with the month's quota")
def usage(
    caller: CallerDep,
    start: Annotated[
        date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="First day (UTC), default 29 days before end.")
    ] = None,
    end: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="Last day (UTC), default today.")] = None,
    user_id: Annotated[str | None, Query(pattern=UUID_PATTERN, description="Another user (admins only).")] = None,
) -> Any:
    return logic.usage_report(caller, user_id=user_id, start=start, end=end)
