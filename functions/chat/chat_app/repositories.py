"""Plain-SQL repositories of conversations, messages and the usage ledger.

Each takes an open psycopg connection (dict rows) from ``claw_common.data.db.connection()``;
the caller owns the transaction. Every query on tenant data filters by the owner's user id,
so another user's id behaves exactly like a missing one. Ids are returned as text.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

CONVERSATION_COLUMNS = """id::text AS id, user_id::text AS user_id, title, conversation_type, status, model,
    system_prompt, knowledge_base_id::text AS knowledge_base_id, metadata, message_count, created_at, updated_at"""

MESSAGE_COLUMNS = """id::text AS id, seq, conversation_id::text AS conversation_id, role, content, prompt_tokens,
    completion_tokens, cost, model, latency_ms, sources, cached, status, error, created_at"""

# Columns a client may change with PUT /conversations/{id}; never the owner, id or counters.
UPDATABLE = ("title", "conversation_type", "status", "model", "system_prompt", "knowledge_base_id", "metadata")


class ConversationRepository:
    """Conversations of one owner at a time."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def create(
        self,
        owner_id: str,
        *,
        title: str,
        conversation_type: str,
        model: str,
        system_prompt: str | None,
        knowledge_base_id: str | None,
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        """Insert a conversation and return it."""
        return self.conn.execute(
            f"""INSERT INTO conversations
                    (user_id, title, conversation_type, model, system_prompt, knowledge_base_id, metadata)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                RETURNING {CONVERSATION_COLUMNS}""",  # noqa: S608 - constant column lists only
            (owner_id, title, conversation_type, model, system_prompt, knowledge_base_id, Jsonb(metadata)),
        ).fetchone()

    def get(self, owner_id: str, conversation_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        """The owner's conversation, or None (missing or someone else's)."""
        lock = " FOR UPDATE" if for_update else ""
        return self.conn.execute(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = %s AND user_id = %s{lock}",  # noqa: S608 - constant column lists only
            (conversation_id, owner_id),
        ).fetchone()

    def page(
        self,
        owner_id: str,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
        status: str | None = None,
        conversation_type: str | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` conversations, most recently updated first, after the keyset ``after``."""
        where = ["user_id = %s"]
        params: list[Any] = [owner_id]
        if after is not None:
            where.append("(updated_at, id) < (%s, %s::uuid)")
            params.extend(after)
        if status is not None:
            where.append("status = %s")
            params.append(status)
        if conversation_type is not None:
            where.append("conversation_type = %s")
            params.append(conversation_type)
        params.append(limit)
        return self.conn.execute(
            f"""SELECT {CONVERSATION_COLUMNS} FROM conversations
                 WHERE {" AND ".join(where)}
                 ORDER BY updated_at DESC, id DESC
                 LIMIT %s""",  # noqa: S608 - constant column lists only
            params,
        ).fetchall()

    def update(self, owner_id: str, conversation_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Apply ``changes`` (keys from :data:`UPDATABLE`) and return the conversation, or None."""
        assignments = ["updated_at = now()"]
        params: list[Any] = []
        for column in UPDATABLE:
            if column in changes:
                assignments.append(f"{column} = %s")
                value = changes[column]
                params.append(Jsonb(value) if column == "metadata" else value)
        params.extend([conversation_id, owner_id])
        return self.conn.execute(
            f"""UPDATE conversations SET {", ".join(assignments)}
                 WHERE id = %s AND user_id = %s
             RETURNING {CONVERSATION_COLUMNS}""",  # noqa: S608 - constant column lists only
            params,
        ).fetchone()

    def delete(self, owner_id: str, conversation_id: str) -> bool:
        """Delete the conversation and its messages; False when there was none to delete."""
        cur = self.conn.execute("DELETE FROM conversations WHERE id = %s AND user_id = %s", (conversation_id, owner_id))
        return cur.rowcount == 1

    def count_messages_added(self, owner_id: str, conversation_id: str, added: int) -> None:
        """Record ``added`` new messages: bump ``message_count`` and ``updated_at``."""
        self.conn.execute(
            """UPDATE conversations SET message_count = message_count + %s, updated_at = now()
                WHERE id = %s AND user_id = %s""",
            (added, conversation_id, owner_id),
        )


class MessageRepository:
    """Messages of one owner's conversations."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def add(
        self,
        owner_id: str,
        conversation_id: str,
        *,
        role: str,
        content: str,
        status: str = "ok",
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cost: Decimal = Decimal(0),
        model: str | None = None,
        latency_ms: int | None = None,
        sources: list[dict[str, Any]] | None = None,
        cached: bool = False,
    ) -> dict[str, Any]:
        """Insert a message and return it."""
        return self.conn.execute(
            f"""INSERT INTO messages (conversation_id, user_id, role, content, status, prompt_tokens,
                                      completion_tokens, cost, model, latency_ms, sources, cached)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                RETURNING {MESSAGE_COLUMNS}""",  # noqa: S608 - constant column lists only
            (
                conversation_id,
                owner_id,
                role,
                content,
                status,
                prompt_tokens,
                completion_tokens,
                cost,
                model,
                latency_ms,
                None if sources is None else Jsonb(sources),
                cached,
            ),
        ).fetchone()

    def set_status(self, owner_id: str, message_id: str, status: str, error: str | None = None) -> None:
        """Mark a message ``ok``, ``pending`` or ``failed`` (with the failure's problem slug)."""
        self.conn.execute(
            "UPDATE messages SET status = %s, error = %s WHERE id = %s AND user_id = %s",
            (status, error, message_id, owner_id),
        )

    def page(self, owner_id: str, conversation_id: str, *, limit: int, after_seq: int | None) -> list[dict[str, Any]]:
        """Up to ``limit`` messages of the conversation, oldest first, after the cursor ``after_seq``."""
        return self.conn.execute(
            f"""SELECT {MESSAGE_COLUMNS} FROM messages
                 WHERE conversation_id = %s AND user_id = %s AND seq > %s
                 ORDER BY seq
                 LIMIT %s""",  # noqa: S608 - constant column lists only
            (conversation_id, owner_id, after_seq or 0, limit),
        ).fetchall()

    def history(self, owner_id: str, conversation_id: str, *, before_seq: int, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` finished turns before ``before_seq``, oldest first.

        Questions that are still pending or whose answer failed are left out: the user asks
        them again, and the model should not see a question twice or one without an answer.
        """
        rows = self.conn.execute(
            # The content's stored token count: a question's prompt_tokens, an answer's completion_tokens
            # (0 for a cached answer, so unknown: then it is counted).
            """SELECT role, content,
                      NULLIF(CASE role WHEN 'user' THEN prompt_tokens ELSE completion_tokens END, 0) AS tokens
                 FROM messages
                WHERE conversation_id = %s AND user_id = %s AND seq < %s AND status = 'ok'
                  AND role IN ('user', 'assistant')
                ORDER BY seq DESC
                LIMIT %s""",
            (conversation_id, owner_id, before_seq, limit),
        ).fetchall()
        rows.reverse()
        return rows


def user_tier(conn: Any, user_id: str) -> str | None:
    """The tier of an existing user, or None when there is no such user (admin usage reports)."""
    row = conn.execute("SELECT tier FROM users WHERE id = %s", (user_id,)).fetchone()
    return None if row is None else str(row["tier"])


def owns_knowledge_base(conn: Any, owner_id: str, knowledge_base_id: str) -> bool:
    """True when ``knowledge_base_id`` is one of ``owner_id``'s knowledge bases."""
    row = conn.execute(
        "SELECT 1 AS ok FROM knowledge_bases WHERE id = %s AND owner_id = %s", (knowledge_base_id, owner_id)
    ).fetchone()
    return row is not None
