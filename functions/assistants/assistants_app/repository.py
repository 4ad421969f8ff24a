"""The ``assistants`` table and its knowledge base links. Every owner query filters by owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

_COLUMNS = """a.id::text AS id, a.owner_id::text AS owner_id, a.public_id, a.name, a.system_prompt, a.model,
       a.welcome_message, a.suggested_questions, a.no_answer_message, a.allowed_origins,
       a.visitor_rate_limit_per_minute, a.monthly_token_budget, a.is_active, a.created_at, a.updated_at,
       coalesce((SELECT array_agg(k.knowledge_base_id::text ORDER BY k.position, k.knowledge_base_id)
                   FROM assistant_knowledge_bases k WHERE k.assistant_id = a.id), '{}') AS knowledge_base_ids"""

SETTINGS = (
    "name",
    "system_prompt",
    "model",
    "welcome_message",
    "suggested_questions",
    "no_answer_message",
    "allowed_origins",
    "visitor_rate_limit_per_minute",
    "monthly_token_budget",
    "is_active",
)


class AssistantRepository:
    """Assistants of their owners (dict rows on an open connection; the caller owns the transaction)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def create(self, owner_id: str, public_id: str, values: dict[str, Any]) -> str:
        """Insert an assistant with every setting of ``values``; its id."""
        row = self.conn.execute(
            """INSERT INTO assistants (owner_id, public_id, name, system_prompt, model, welcome_message,
                                       suggested_questions, no_answer_message, allowed_origins,
                                       visitor_rate_limit_per_minute, monthly_token_budget, is_active)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id::text AS id""",
            (owner_id, public_id, *self._values(values)),
        ).fetchone()
        return str(row["id"])

    def update(self, owner_id: str, assistant_id: str, values: dict[str, Any]) -> bool:
        """Replace every setting of the owner's assistant; False when it is not theirs."""
        cur = self.conn.execute(
            """UPDATE assistants SET name = %s, system_prompt = %s, model = %s, welcome_message = %s,
                      suggested_questions = %s, no_answer_message = %s, allowed_origins = %s,
                      visitor_rate_limit_per_minute = %s, monthly_token_budget = %s, is_active = %s,
                      updated_at = clock_timestamp()
                WHERE owner_id = %s AND id = %s""",
            (*self._values(values), owner_id, assistant_id),
        )
        return cur.rowcount > 0

    @staticmethod
    def _values(values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(Jsonb(values[k]) if k == "suggested_questions" else values[k] for k in SETTINGS)

    def set_knowledge_bases(self, assistant_id: str, kb_ids: list[str]) -> None:
        """Link exactly ``kb_ids`` (in this order) to the assistant; ownership is checked by the caller."""
        self.conn.execute("DELETE FROM assistant_knowledge_bases WHERE assistant_id = %s", (assistant_id,))
        for position, kb_id in enumerate(kb_ids):
            self.conn.execute(
                """INSERT INTO assistant_knowledge_bases (assistant_id, knowledge_base_id, position)
                   VALUES (%s, %s, %s)""",
                (assistant_id, kb_id, position),
            )

    def owned_knowledge_bases(self, owner_id: str, kb_ids: list[str]) -> set[str]:
        """The ids among ``kb_ids`` that are knowledge bases of ``owner_id``."""
        if not kb_ids:
            return set()
        rows = self.conn.execute(
            "SELECT id::text AS id FROM knowledge_bases WHERE owner_id = %s AND id = ANY(%s::uuid[])",
            (owner_id, kb_ids),
        ).fetchall()
        return {r["id"] for r in rows}

    def get(self, owner_id: str, assistant_id: str) -> dict[str, Any] | None:
        """The owner's assistant, or None (also for another owner's)."""
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM assistants a WHERE a.owner_id = %s AND a.id = %s",  # noqa: S608 - constant columns
            (owner_id, assistant_id),
        ).fetchone()

    def get_owned_by_public_id(self, owner_id: str, public_id: str) -> dict[str, Any] | None:
        """The owner's assistant with this public id (the OpenAI ``model``), or None."""
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM assistants a WHERE a.owner_id = %s AND a.public_id = %s",  # noqa: S608
            (owner_id, public_id),
        ).fetchone()

    def get_public(self, public_id: str) -> dict[str, Any] | None:
        """An active assistant of an active owner by public id (what visitors may reach), or None."""
        return self.conn.execute(
            f"""SELECT {_COLUMNS}, u.tier AS owner_tier, u.role AS owner_role
                  FROM assistants a JOIN users u ON u.id = a.owner_id
                 WHERE a.public_id = %s AND a.is_active AND u.is_active""",  # noqa: S608 - constant columns
            (public_id,),
        ).fetchone()

    def page(self, owner_id: str, limit: int, after: tuple[datetime, str] | None) -> list[dict[str, Any]]:
        """The owner's assistants, newest first, after the keyset position ``after``."""
        if after is None:
            return self.conn.execute(
                f"""SELECT {_COLUMNS} FROM assistants a WHERE a.owner_id = %s
                     ORDER BY a.created_at DESC, a.id DESC LIMIT %s""",  # noqa: S608 - constant columns
                (owner_id, limit),
            ).fetchall()
        return self.conn.execute(
            f"""SELECT {_COLUMNS} FROM assistants a WHERE a.owner_id = %s AND (a.created_at, a.id) < (%s, %s)
                 ORDER BY a.created_at DESC, a.id DESC LIMIT %s""",  # noqa: S608 - constant columns
            (owner_id, after[0], after[1], limit),
        ).fetchall()

    def active_of_owner(self, owner_id: str) -> list[dict[str, Any]]:
        """The owner's active assistants, oldest first (the OpenAI model list)."""
        return self.conn.execute(
            """SELECT public_id, name, created_at FROM assistants
                WHERE owner_id = %s AND is_active ORDER BY created_at, id""",
            (owner_id,),
        ).fetchall()

    def delete(self, owner_id: str, assistant_id: str) -> bool:
        """Delete the owner's assistant with its conversations; False when it is not theirs."""
        cur = self.conn.execute("DELETE FROM assistants WHERE owner_id = %s AND id = %s", (owner_id, assistant_id))
        return cur.rowcount > 0
