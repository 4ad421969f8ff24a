"""Usage reports: tokens and cost by day and model, with the month's quota."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from chat_app.conversation_logic import not_found, require_uuid
from chat_app.models import UsageReport
from chat_app.repositories import user_tier
from claw_ai import runtime_config
from claw_ai.answering.ledger import UsageRepository, month_start, next_month, utc_today
from claw_common.auth.caller import Caller
from claw_common.data import db
from claw_common.errors import Forbidden, ValidationFailed

MAX_USAGE_RANGE_DAYS = 366
DEFAULT_USAGE_RANGE_DAYS = 30


def usage_report(
    caller: Caller,
    *,
    user_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> UsageReport:
    """Tokens and cost by day and model from ``start`` to ``end`` (UTC, inclusive), with the month's quota.

    Defaults: the last 30 days. Only admins may name another ``user_id`` (403 otherwise);
    an unknown user is 404.
    """
    target = (user_id or caller.user_id).lower()
    if target != caller.user_id.lower() and not caller.is_admin:
        raise Forbidden("Only admins may read another user's usage.")
    today = utc_today()
    end = end or today
    start = start or end - timedelta(days=DEFAULT_USAGE_RANGE_DAYS - 1)
    if start > end:
        raise ValidationFailed(
            "start must not be after end.",
            errors=[{"loc": ["query", "start"], "msg": "start is after end", "type": "value_error"}],
        )
    if (end - start).days >= MAX_USAGE_RANGE_DAYS:
        raise ValidationFailed(
            f"The range may span at most {MAX_USAGE_RANGE_DAYS} days.",
            errors=[{"loc": ["query", "start"], "msg": "range too long", "type": "value_error"}],
        )
    with db.connection() as conn:
        tier: str | None = caller.tier
        if target != caller.user_id.lower():
            tier = user_tier(conn, require_uuid(target, "User"))
        if tier is None:
            raise not_found("User")
        ledger = UsageRepository(conn)
        rows = ledger.by_day_and_model(target, start, end)
        used = ledger.tokens_since(target, month_start(today))
    items = [{**r, "cost": float(r["cost"])} for r in rows]
    totals: dict[str, Any] = {
        name: sum(int(r[name]) for r in rows)
        for name in ("requests", "cached_requests", "prompt_tokens", "completion_tokens", "total_tokens")
    }
    totals["cost"] = float(sum((Decimal(r["cost"]) for r in rows), Decimal(0)))
    quota = runtime_config.monthly_token_quota(tier)
    return UsageReport.model_validate(
        {
            "user_id": target,
            "start": start,
            "end": end,
            "items": items,
            "totals": totals,
            "quota": {
                "tier": tier,
                "monthly_tokens": quota,
                "used_tokens": used,
                "remaining_tokens": max(0, quota - used),
                "resets_at": next_month(today),
            },
        }
    )
