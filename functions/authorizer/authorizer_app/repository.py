"""Plain SQL for refresh-token families and API keys (users live in ``claw_common.auth.accounts``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from claw_common.auth.credentials import is_user_id

API_KEY_COLUMNS = "id::text AS id, name, prefix, created_at, last_used_at"


@dataclass(frozen=True)
class RefreshRow:
    id: int
    family_id: str
    user_id: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


class RefreshTokenRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def add(self, *, token_hash: str, family_id: str | None, user_id: str, ttl_s: int) -> str:
        """Store a token of a family (a new family when ``family_id`` is None); returns the family."""
        row = self.conn.execute(
            """INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
               VALUES (%s, COALESCE(%s::uuid, gen_random_uuid()), %s, now() + make_interval(secs => %s))
               RETURNING family_id::text AS family_id""",
            (token_hash, family_id, user_id, ttl_s),
        ).fetchone()
        return str(row["family_id"])

    def lock(self, token_hash: str) -> RefreshRow | None:
        """The token's row, locked until the transaction ends (two refreshes never both win)."""
        row = self.conn.execute(
            """SELECT id, family_id::text AS family_id, user_id::text AS user_id, expires_at, used_at, revoked_at
               FROM refresh_tokens WHERE token_hash = %s FOR UPDATE""",
            (token_hash,),
        ).fetchone()
        return RefreshRow(**row) if row else None

    def mark_used(self, token_id: int) -> None:
        self.conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = %s", (token_id,))

    def revoke_family(self, family_id: str) -> int:
        cur = self.conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL", (family_id,)
        )
        return cur.rowcount

    def revoke_user(self, user_id: str) -> int:
        cur = self.conn.execute(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
        )
        return cur.rowcount


class ApiKeyRepository:
    """Every method takes the owner: a key of another user is indistinguishable from none."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def create(self, *, user_id: str, name: str, prefix: str, key_hash: str) -> dict[str, Any]:
        return self.conn.execute(
            f"""INSERT INTO api_keys (user_id, name, prefix, key_hash) VALUES (%s, %s, %s, %s)
                RETURNING {API_KEY_COLUMNS}""",  # noqa: S608 - column lists are constants; values are parameters
            (user_id, name, prefix, key_hash),
        ).fetchone()

    def count_active(self, user_id: str) -> int:
        row = self.conn.execute(
            "SELECT count(*) AS n FROM api_keys WHERE user_id = %s AND revoked_at IS NULL", (user_id,)
        ).fetchone()
        return int(row["n"])

    def list_active(self, user_id: str) -> list[dict[str, Any]]:
        return self.conn.execute(
            f"""SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = %s AND revoked_at IS NULL
                ORDER BY created_at DESC, id DESC""",  # noqa: S608 - column lists are constants; values are parameters
            (user_id,),
        ).fetchall()

    def revoke(self, *, user_id: str, key_id: str) -> bool:
        """Revoke the caller's active key; False when there is no such key of theirs."""
        if not is_user_id(key_id):
            return False
        cur = self.conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = %s AND user_id = %s AND revoked_at IS NULL",
            (key_id, user_id),
        )
        return cur.rowcount == 1
