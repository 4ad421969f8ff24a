"""What the owner reads about an assistant: conversations, messages with feedback, daily stats, exports.

Every query names the owner as well as the assistant.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


class InsightsRepository:
    """Read-only queries over an assistant's conversations (dict rows on an open connection)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def conversations(
        self,
        owner_id: str,
        assistant_id: str,
        *,
        started_from: datetime | None,
        started_before: datetime | None,
        no_answer: bool,
        thumbs_down: bool,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The assistant's conversations, most recently active first, filtered and after ``after``."""
        after_time, after_id = after if after is not None else (None, None)
        return self.conn.execute(
            """SELECT c.id::text AS id, c.channel, c.visitor_id::text AS visitor_id, c.origin, c.started_at,
                      c.last_message_at, c.message_count, c.question_count, c.no_answer_count,
                      c.feedback_up, c.feedback_down,
                      (SELECT left(m.content, 200) FROM assistant_messages m
                        WHERE m.conversation_id = c.id ORDER BY m.seq DESC LIMIT 1) AS last_message
                 FROM assistant_conversations c
                WHERE c.owner_id = %(owner)s AND c.assistant_id = %(assistant)s
                  AND (%(from)s::timestamptz IS NULL OR c.started_at >= %(from)s::timestamptz)
                  AND (%(before)s::timestamptz IS NULL OR c.started_at < %(before)s::timestamptz)
                  AND (NOT %(no_answer)s OR c.no_answer_count > 0)
                  AND (NOT %(down)s OR c.feedback_down > 0)
                  AND (%(after_time)s::timestamptz IS NULL
                       OR (c.last_message_at, c.id) < (%(after_time)s::timestamptz, %(after_id)s::uuid))
                ORDER BY c.last_message_at DESC, c.id DESC
                LIMIT %(limit)s""",
            {
                "owner": owner_id,
                "assistant": assistant_id,
                "from": started_from,
                "before": started_before,
                "no_answer": no_answer,
                "down": thumbs_down,
                "after_time": after_time,
                "after_id": after_id,
                "limit": limit,
            },
        ).fetchall()

    def conversation_exists(self, owner_id: str, assistant_id: str, conversation_id: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 AS ok FROM assistant_conversations WHERE owner_id = %s AND assistant_id = %s AND id = %s",
            (owner_id, assistant_id, conversation_id),
        ).fetchone()
        return row is not None

    def messages(self, owner_id: str, assistant_id: str, conversation_id: str) -> list[dict[str, Any]]:
        """Every message of the conversation, in order, with the answer's feedback."""
        return self.conn.execute(
            """SELECT m.id::text AS id, m.role, m.content, m.sources, m.no_answer, m.limited, m.prompt_tokens,
                      m.completion_tokens, m.cost, m.model, m.created_at, f.rating, f.comment
                 FROM assistant_messages m LEFT JOIN assistant_feedback f ON f.message_id = m.id
                WHERE m.owner_id = %s AND m.assistant_id = %s AND m.conversation_id = %s
                ORDER BY m.seq""",
            (owner_id, assistant_id, conversation_id),
        ).fetchall()

    def daily(self, owner_id: str, assistant_id: str, first: date, last: date) -> list[dict[str, Any]]:
        """Per UTC day from ``first`` to ``last``: conversations started, questions, no-answers,
        feedback given, tokens and cost (zero rows for quiet days)."""
        return self.conn.execute(
            """WITH days AS (
                   SELECT d::date AS day FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d),
               conv AS (
                   SELECT (started_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                     FROM assistant_conversations
                    WHERE owner_id = %(owner)s AND assistant_id = %(assistant)s
                      AND started_at >= %(first)s::date AT TIME ZONE 'UTC'
                    GROUP BY 1),
               msg AS (
                   SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
                          count(*) FILTER (WHERE role = 'user') AS questions,
                          count(*) FILTER (WHERE no_answer) AS no_answers,
                          coalesce(sum(total_tokens), 0) AS tokens, coalesce(sum(cost), 0) AS cost
                     FROM assistant_messages
                    WHERE owner_id = %(owner)s AND assistant_id = %(assistant)s
                      AND created_at >= %(first)s::date AT TIME ZONE 'UTC'
                    GROUP BY 1),
               fb AS (
                   SELECT (f.created_at AT TIME ZONE 'UTC')::date AS day,
                          count(*) FILTER (WHERE f.rating = 'up') AS up,
                          count(*) FILTER (WHERE f.rating = 'down') AS down
                     FROM assistant_feedback f JOIN assistants a ON a.id = f.assistant_id
                    WHERE a.owner_id = %(owner)s AND f.assistant_id = %(assistant)s
                      AND f.created_at >= %(first)s::date AT TIME ZONE 'UTC'
                    GROUP BY 1)
               SELECT days.day, coalesce(conv.n, 0)::int AS conversations,
                      coalesce(msg.questions, 0)::int AS questions, coalesce(msg.no_answers, 0)::int AS no_answers,
                      coalesce(fb.up, 0)::int AS feedback_up, coalesce(fb.down, 0)::int AS feedback_down,
                      coalesce(msg.tokens, 0)::bigint AS tokens, coalesce(msg.cost, 0) AS cost
                 FROM days LEFT JOIN conv USING (day) LEFT JOIN msg USING (day) LEFT JOIN fb USING (day)
                ORDER BY days.day""",
            {"owner": owner_id, "assistant": assistant_id, "first": first, "last": last},
        ).fetchall()

    def export_rows(self, owner_id: str, assistant_id: str, since: datetime, limit: int) -> list[dict[str, Any]]:
        """Messages from ``since`` on with their conversation and feedback, oldest first (at most ``limit``)."""
        return self.conn.execute(
            """SELECT m.conversation_id::text AS conversation_id, c.channel, c.visitor_id::text AS visitor_id,
                      c.origin, m.id::text AS message_id, m.role, m.content, m.sources, m.no_answer, m.limited,
                      m.prompt_tokens, m.completion_tokens, m.cost, m.model, m.created_at,
                      f.rating, f.comment
                 FROM assistant_messages m
                 JOIN assistant_conversations c ON c.id = m.conversation_id
                 LEFT JOIN assistant_feedback f ON f.message_id = m.id
                WHERE m.owner_id = %s AND m.assistant_id = %s AND m.created_at >= %s
                ORDER BY m.seq
                LIMIT %s""",
            (owner_id, assistant_id, since, limit),
        ).fetchall()
