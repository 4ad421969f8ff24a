"""The owner's view of an assistant: conversations (filtered, paginated), messages, daily stats, exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from assistants_app.insights_repository import InsightsRepository
from assistants_app.models import (
    AssistantStats,
    ConversationPage,
    ConversationSummary,
    Feedback,
    MessageList,
    OwnerMessage,
    StatsDay,
)
from assistants_app.owner_logic import require_assistant
from claw_ai.retrieval.sources import CitedSource
from claw_common.auth.caller import Caller
from claw_common.auth.tokens import is_user_id
from claw_common.data import db
from claw_common.errors import NotFound, ValidationFailed
from claw_common.http.pagination import decode_cursor, encode_cursor, invalid_cursor

EXPORT_MAX_MESSAGES = 20_000
"""Most messages in one export (a REST response is at most 6 MB; narrow ``days`` for more)."""
EXPORT_COLUMNS = (
    "conversation_id",
    "channel",
    "visitor_id",
    "origin",
    "message_id",
    "role",
    "content",
    "sources",
    "no_answer",
    "limited",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "model",
    "created_at",
    "feedback",
    "feedback_comment",
)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    # One typed shape, or a 422 (claw_common.http.pagination).
    after = decode_cursor(cursor, tuple[datetime, str])
    if not is_user_id(after[1]):
        raise invalid_cursor()
    return after


def list_conversations(
    caller: Caller,
    assistant_id: str,
    *,
    date_from: date | None,
    date_to: date | None,
    no_answer: bool,
    thumbs_down: bool,
    cursor: str | None,
    limit: int,
) -> ConversationPage:
    """The assistant's conversations, most recently active first; ``date_from``/``date_to``
    (UTC, inclusive) filter by the day they started."""
    if date_from and date_to and date_from > date_to:
        raise ValidationFailed(
            "date_from is after date_to.",
            errors=[{"loc": ["query", "date_from"], "msg": "after date_to", "type": "value_error"}],
        )
    after = _after(cursor)
    with db.connection() as conn:
        require_assistant(conn, caller, assistant_id)
        rows = InsightsRepository(conn).conversations(
            caller.user_id,
            assistant_id,
            started_from=_day_start(date_from) if date_from else None,
            started_before=_day_start(date_to + timedelta(days=1)) if date_to else None,
            no_answer=no_answer,
            thumbs_down=thumbs_down,
            after=after,
            limit=limit + 1,
        )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last["last_message_at"].isoformat(), last["id"]])
    return ConversationPage(items=[ConversationSummary(**r) for r in page], next_cursor=next_cursor)


def _feedback(row: dict[str, Any]) -> Feedback | None:
    if not row.get("rating"):
        return None
    return Feedback(message_id=row["id"], rating=row["rating"], comment=row.get("comment"))


def conversation_messages(caller: Caller, assistant_id: str, conversation_id: str) -> MessageList:
    """Every message of one of the assistant's conversations, with sources and feedback."""
    with db.connection() as conn:
        require_assistant(conn, caller, assistant_id)
        repo = InsightsRepository(conn)
        if not is_user_id(conversation_id) or not repo.conversation_exists(
            caller.user_id, assistant_id, conversation_id
        ):
            raise NotFound("No such conversation.")
        rows = repo.messages(caller.user_id, assistant_id, conversation_id)
    return MessageList(
        conversation_id=conversation_id,
        items=[
            OwnerMessage(
                id=r["id"],
                role=r["role"],
                content=r["content"],
                sources=[CitedSource(**s) for s in r["sources"] or []],
                no_answer=r["no_answer"],
                limited=r["limited"],
                feedback=_feedback(r),
                prompt_tokens=r["prompt_tokens"],
                completion_tokens=r["completion_tokens"],
                cost=float(r["cost"]),
                model=r["model"],
                created_at=r["created_at"],
            )
            for r in rows
        ],
    )


def _stats_day(day: date, c: int, q: int, na: int, up: int, down: int, tokens: int, cost: float) -> StatsDay:
    return StatsDay(
        day=day,
        conversations=c,
        questions=q,
        no_answers=na,
        no_answer_rate=round(na / q, 4) if q else 0.0,
        feedback_up=up,
        feedback_down=down,
        tokens=tokens,
        cost=round(cost, 6),
    )


def stats(caller: Caller, assistant_id: str, days: int) -> AssistantStats:
    """Per UTC day over the last ``days`` days (today included), and the totals."""
    last = datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    with db.connection() as conn:
        require_assistant(conn, caller, assistant_id)
        rows = InsightsRepository(conn).daily(caller.user_id, assistant_id, first, last)
    per_day = [
        _stats_day(
            r["day"],
            r["conversations"],
            r["questions"],
            r["no_answers"],
            r["feedback_up"],
            r["feedback_down"],
            int(r["tokens"]),
            float(r["cost"]),
        )
        for r in rows
    ]
    totals = _stats_day(
        first,
        sum(d.conversations for d in per_day),
        sum(d.questions for d in per_day),
        sum(d.no_answers for d in per_day),
        sum(d.feedback_up for d in per_day),
        sum(d.feedback_down for d in per_day),
        sum(d.tokens for d in per_day),
        sum(d.cost for d in per_day),
    )
    return AssistantStats(assistant_id=assistant_id, days=per_day, totals=totals)


def _export_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": row["conversation_id"],
        "channel": row["channel"],
        "visitor_id": row["visitor_id"],
        "origin": row["origin"],
        "message_id": row["message_id"],
        "role": row["role"],
        "content": row["content"],
        "sources": row["sources"] or [],
        "no_answer": row["no_answer"],
        "limited": row["limited"],
        "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"],
        "cost": float(row["cost"]),
        "model": row["model"],
        "created_at": row["created_at"].isoformat(),
        "feedback": row["rating"],
        "feedback_comment": row["comment"],
    }


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula: visitors write the content, so text
    starting with ``= + - @`` (or a tab/CR) gets a leading apostrophe (OWASP's CSV injection advice)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export(caller: Caller, assistant_id: str, *, fmt: Literal["jsonl", "csv"], days: int) -> tuple[str, bool]:
    """Every message of the last ``days`` days as JSON Lines or CSV (one row per message);
    (text, truncated) — truncated when more than :data:`EXPORT_MAX_MESSAGES` exist."""
    since = _day_start(datetime.now(UTC).date() - timedelta(days=days - 1))
    with db.connection() as conn:
        require_assistant(conn, caller, assistant_id)
        rows = InsightsRepository(conn).export_rows(caller.user_id, assistant_id, since, EXPORT_MAX_MESSAGES + 1)
    truncated = len(rows) > EXPORT_MAX_MESSAGES
    records = [_export_record(r) for r in rows[:EXPORT_MAX_MESSAGES]]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), truncated
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        record = {**record, "sources": json.dumps(record["sources"], ensure_ascii=False)}
        writer.writerow({k: csv_safe(v) for k, v in record.items()})
    return out.getvalue(), truncated
