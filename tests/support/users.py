"""Users for tests: a database row for handler tests, or a real account through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    """A user as the authorizer describes it to the functions."""

    id: str
    role: str = "user"
    tier: str = "free"

    @property
    def authorizer(self) -> dict[str, Any]:
        """The authorizer context API Gateway passes to the function."""
        return {"user_id": self.id, "role": self.role, "tier": self.tier, "auth_method": "jwt", "principalId": self.id}


def insert_user(db: Any, *, tier: str = "free", role: str = "user", prefix: str = "user") -> Principal:
    """A user row (functions trust the database's role and tier, as the authorizer does)."""
    row = db.execute(
        "INSERT INTO users (email, password_hash, role, tier) VALUES (%s, %s, %s, %s) RETURNING id::text AS id",
        (f"{prefix}-{uuid.uuid4().hex[:12]}@example.com", "not-a-login-hash", role, tier),
    ).fetchone()
    return Principal(row["id"] if isinstance(row, dict) else row[0], role, tier)
