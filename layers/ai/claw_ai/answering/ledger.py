"""The usage ledger and the monthly token quota: what every answer (chat, knowledge query,
assistant) is billed to.

Plain SQL on an open psycopg connection (dict rows); the caller owns the transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from claw_ai import runtime_config
from claw_common.errors import QuotaExceeded
from claw_common.observability import MetricUnit, metrics


def utc_today() -> date:
    return datetime.now(UTC).date()


def month_start(today: date) -> date:
    return today.replace(day=1)


def next_month(today: date) -> datetime:
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime(following.year, following.month, following.day, tzinfo=UTC)


class UsageRepository:
    """The usage ledger: tokens, cost and requests per user, UTC day and model."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def record(
        self,
        user_id: str,
        model: str,
        *,
        prompt_tokens: int,
        completion_tokens: int,
        cost: Decimal,
        cached: bool = False,
    ) -> None:
        """Add one request to today's (UTC) row of ``user_id`` and ``model``."""
        self.conn.execute(
            """INSERT INTO usage_ledger AS u (user_id, day, model, requests, cached_requests, prompt_tokens,
                                              completion_tokens, total_tokens, cost)
               VALUES (%s, (now() AT TIME ZONE 'UTC')::date, %s, 1, %s, %s, %s, %s, %s)
               ON CONFLICT (user_id, day, model) DO UPDATE SET
                   requests = u.requests + 1,
                   cached_requests = u.cached_requests + EXCLUDED.cached_requests,
                   prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
                   completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
                   total_tokens = u.total_tokens + EXCLUDED.total_tokens,
                   cost = u.cost + EXCLUDED.cost,
                   updated_at = now()""",
            (
                user_id,
                model,
                1 if cached else 0,
                prompt_tokens,
                completion_tokens,
                prompt_tokens + completion_tokens,
                cost,
            ),
        )

    def tokens_since(self, user_id: str, first_day: date) -> int:
        """Tokens ``user_id`` spent from ``first_day`` (UTC) on."""
        row = self.conn.execute(
            "SELECT coalesce(sum(total_tokens), 0)::bigint AS total FROM usage_ledger WHERE user_id = %s AND day >= %s",
            (user_id, first_day),
        ).fetchone()
        return int(row["total"])

    def by_day_and_model(self, user_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """Ledger rows of ``user_id`` from ``start`` to ``end`` inclusive, oldest first."""
        return self.conn.execute(
            """SELECT day, model, requests, cached_requests, prompt_tokens, completion_tokens, total_tokens, cost
                 FROM usage_ledger
                WHERE user_id = %s AND day BETWEEN %s AND %s
                ORDER BY day, model""",
            (user_id, start, end),
        ).fetchall()


def check_quota(conn: Any, user_id: str, tier: str) -> None:
    """429 (quota-exceeded) when ``user_id`` spent its tier's monthly tokens."""
    quota = runtime_config.monthly_token_quota(tier)
    today = utc_today()
    used = UsageRepository(conn).tokens_since(user_id, month_start(today))
    if used >= quota:
        resets_at = next_month(today)
        metrics.add_metric(name="QuotaExceeded", unit=MetricUnit.Count, value=1)
        raise QuotaExceeded(
            f"The monthly token quota of the {tier} tier ({quota} tokens) is used up; "
            f"it resets on {resets_at.date().isoformat()}.",
            retry_after=int((resets_at - datetime.now(UTC)).total_seconds()),
            extra={"quota_tokens": quota, "used_tokens": used, "resets_at": resets_at.isoformat()},
        )
