"""Visitor conversations, their messages and feedback: what answering writes.

The conversation's counters (messages, questions, no-answers, thumbs up/down) change in the
same transaction as the rows they count, so the owner's list and filters read them directly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb


class ConversationRepository:
    """Conversations of one assistant (dict rows on an open connection; the caller owns the transaction)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def open(
        self,
        conversation_id: str,
        assistant: dict[str, Any],
        *,
        channel: str,
        visitor_id: str | None,
        origin: str | None,
    ) -> bool:
        """Create the conversation on its first message (and lock it); False when the id belongs
        to another assistant (a token can only name its own, so this is a guard, not a path)."""
        self.conn.execute(
            """INSERT INTO assistant_conversations (id, assistant_id, owner_id, channel, visitor_id, origin)
               VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING""",
            (conversation_id, assistant["id"], assistant["owner_id"], channel, visitor_id, origin or None),
        )
        row = self.conn.execute(
            "SELECT assistant_id::text AS assistant_id FROM assistant_conversations WHERE id = %s FOR UPDATE",
            (conversation_id,),
        ).fetchone()
        return row is not None and row["assistant_id"] == assistant["id"]

    def history(self, conversation_id: str, limit: int) -> list[dict[str, Any]]:
        """The conversation's last ``limit`` messages, oldest first."""
        rows = self.conn.execute(
            """SELECT role, content FROM assistant_messages WHERE conversation_id = %s
                ORDER BY seq DESC LIMIT %s""",
            (conversation_id, limit),
        ).fetchall()
        return list(reversed(rows))

    def add_message(
        self,
        conversation_id: str,
        assistant: dict[str, Any],
        *,
        role: str,
        content: str,
        sources: list[dict[str, Any]] | None = None,
        no_answer: bool = False,
        limited: str | None = None,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: Decimal = Decimal(0),
        model: str | None = None,
        latency_ms: int | None = None,
        cached: bool = False,
    ) -> dict[str, Any]:
        """Store one message and count it on the conversation; the new row's id and time."""
        row = self.conn.execute(
            """INSERT INTO assistant_messages (conversation_id, assistant_id, owner_id, role, content, sources,
                                               no_answer, limited, prompt_tokens, completion_tokens, cost, model,
                                               latency_ms, cached)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               RETURNING id::text AS id, created_at""",
            (
                conversation_id,
                assistant["id"],
                assistant["owner_id"],
                role,
                content,
                Jsonb(sources or []),
                no_answer,
                limited,
                prompt_tokens,
                completion_tokens,
                cost,
                model,
                latency_ms,
                cached,
            ),
        ).fetchone()
        self.conn.execute(
            """UPDATE assistant_conversations
                  SET message_count = message_count + 1,
                      question_count = question_count + %s,
                      no_answer_count = no_answer_count + %s,
                      last_message_at = %s
                WHERE id = %s""",
            (1 if role == "user" else 0, 1 if no_answer else 0, row["created_at"], conversation_id),
        )
        return dict(row)

    def tokens_since(self, assistant_id: str, since: datetime) -> int:
        """Tokens the assistant's answers used from ``since`` on (its monthly budget)."""
        row = self.conn.execute(
            """SELECT coalesce(sum(total_tokens), 0)::bigint AS total FROM assistant_messages
                WHERE assistant_id = %s AND created_at >= %s""",
            (assistant_id, since),
        ).fetchone()
        return int(row["total"])

    def answer_in_conversation(self, conversation_id: str, message_id: str) -> bool:
        """True when ``message_id`` is an answer in this conversation (what a visitor may rate)."""
        row = self.conn.execute(
            """SELECT 1 AS ok FROM assistant_messages
                WHERE id = %s AND conversation_id = %s AND role = 'assistant'""",
            (message_id, conversation_id),
        ).fetchone()
        return row is not None

    def rate(self, conversation_id: str, assistant_id: str, message_id: str, rating: str, comment: str | None) -> None:
        """Record (or change) the rating of an answer and keep the conversation's counts in step."""
        self.conn.execute("SELECT 1 FROM assistant_conversations WHERE id = %s FOR UPDATE", (conversation_id,))
        before = self.conn.execute(
            "SELECT rating FROM assistant_feedback WHERE message_id = %s", (message_id,)
        ).fetchone()
        self.conn.execute(
            """INSERT INTO assistant_feedback (message_id, conversation_id, assistant_id, rating, comment)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (message_id) DO UPDATE SET rating = EXCLUDED.rating, comment = EXCLUDED.comment,
                                                      updated_at = clock_timestamp()""",
            (message_id, conversation_id, assistant_id, rating, comment),
        )
        up = (rating == "up") - (before is not None and before["rating"] == "up")
        down = (rating == "down") - (before is not None and before["rating"] == "down")
        self.conn.execute(
            """UPDATE assistant_conversations SET feedback_up = feedback_up + %s, feedback_down = feedback_down + %s
                WHERE id = %s""",
            (int(up), int(down), conversation_id),
        )
