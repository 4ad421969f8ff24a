"""Accounts: password hashing, the user repository, the cached principal state, the first admin.

Used by the auth API, by ``current_caller`` (every API checks that the caller is still
active, with its current role and tier) and by ``make admin`` / ``make dev`` seeding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from claw_common.auth import credentials as tokens
from claw_common.errors import Conflict
from claw_common.observability import logger

if TYPE_CHECKING:
    import psycopg
    from argon2 import PasswordHasher

USER_COLUMNS = "id::text AS id, email, name, company, phone, role, tier, is_active, created_at, updated_at"


# ---------------------------------------------------------------- passwords


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHasher:
    """argon2id at OWASP's first recommended setting: m=19 MiB, t=2, p=1."""
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string, salt included)."""
    return password_hasher().hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not-a-real-password-but-the-same-cost")


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash (unknown account) a dummy hash is
    verified instead, so the answer takes as long as for a known account."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return password_hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash used weaker parameters than today's."""
    return password_hasher().check_needs_rehash(password_hash)


# ---------------------------------------------------------------- users


@dataclass(frozen=True)
class UserRecord:
    """A user row (without the password hash)."""

    id: str
    email: str
    name: str | None
    company: str | None
    phone: str | None
    role: str
    tier: str
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> UserRecord:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class UserRepository:
    """Plain SQL on ``users``; every method runs on the connection it is given."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def create(
        self,
        *,
        email: str,
        password_hash: str,
        name: str | None = None,
        company: str | None = None,
        phone: str | None = None,
        role: str = "user",
        tier: str = "free",
    ) -> UserRecord:
        """Insert a user; ``Conflict`` when the email (any case) is taken."""
        import psycopg.errors

        try:
            with self.conn.transaction():
                row = self.conn.execute(
                    f"""INSERT INTO users (email, password_hash, name, company, phone, role, tier)
                        VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {USER_COLUMNS}""",  # noqa: S608 - column lists are constants; values are parameters
                    (email, password_hash, name, company, phone, role, tier),
                ).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict("An account with this email already exists.") from exc
        assert row is not None
        return UserRecord.from_row(row)

    def get(self, user_id: str) -> UserRecord | None:
        if not tokens.is_user_id(user_id):
            return None
        row = self.conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()  # noqa: S608 - column lists are constants; values are parameters
        return UserRecord.from_row(row) if row else None

    def get_credentials(self, email: str) -> tuple[UserRecord, str] | None:
        """The user and password hash for a login, by email in any case."""
        row = self.conn.execute(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower(%s)",  # noqa: S608 - column lists are constants; values are parameters
            (email,),
        ).fetchone()
        return (UserRecord.from_row(row), row["password_hash"]) if row else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.conn.execute(
            "UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s", (password_hash, user_id)
        )

    def touch_login(self, user_id: str) -> None:
        self.conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user_id,))

    def update(self, user_id: str, changes: dict[str, Any]) -> UserRecord | None:
        """Apply ``changes`` (only known columns) and return the user, or None when missing."""
        allowed = {"role", "tier", "is_active", "name", "company", "phone"}
        fields = {k: v for k, v in changes.items() if k in allowed}
        if not tokens.is_user_id(user_id):
            return None
        if not fields:
            return self.get(user_id)
        # Column names come from the allow-list above, never from the client.
        assignments = ", ".join(f"{k} = %s" for k in fields)
        row = self.conn.execute(
            f"UPDATE users SET {assignments}, updated_at = now() WHERE id = %s RETURNING {USER_COLUMNS}",  # noqa: S608 - column lists are constants; values are parameters
            (*fields.values(), user_id),
        ).fetchone()
        return UserRecord.from_row(row) if row else None

    def page(self, limit: int, after: tuple[datetime, str] | None) -> list[UserRecord]:
        """Newest first, keyset-paginated on (created_at, id)."""
        if after is None:
            rows = self.conn.execute(
                f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at DESC, id DESC LIMIT %s",  # noqa: S608 - column lists are constants; values are parameters
                (limit,),
            ).fetchall()
        else:
            rows = self.conn.execute(
                f"""SELECT {USER_COLUMNS} FROM users WHERE (created_at, id) < (%s, %s::uuid)
                    ORDER BY created_at DESC, id DESC LIMIT %s""",  # noqa: S608 - column lists are constants; values are parameters
                (after[0], after[1], limit),
            ).fetchall()
        return [UserRecord.from_row(r) for r in rows]


# ---------------------------------------------------------------- principal state (cached)


@dataclass(frozen=True)
class PrincipalState:
    """What the platform currently knows about a caller, fresher than any token."""

    active: bool
    role: str = "user"
    tier: str = "free"


def _redis_or_none() -> Any:
    try:
        from claw_common.data.cache import get_redis

        return get_redis()
    except Exception:  # noqa: BLE001 - no cache configured: the database answers alone
        return None


def _cached(key: str, load: Callable[[], dict[str, Any]], ttl: int) -> dict[str, Any]:
    """Cache-aside on Redis; a Redis failure falls back to the database (logged)."""
    import redis as redis_lib

    client = _redis_or_none()
    if client is not None:
        try:
            state = tokens.decode_state(client.get(key))
            if state is not None:
                return state
        except (redis_lib.RedisError, OSError):
            logger.warning("principal cache unavailable; asking the database")
            client = None
    state = load()
    if client is not None:
        try:
            client.set(key, tokens.encode_state(state), ex=ttl)
        except (redis_lib.RedisError, OSError):
            logger.warning("principal cache unavailable; not caching")
    return state


def user_state(user_id: str) -> PrincipalState:
    """The user's current active flag, role and tier (Redis for ~30 s, else the database)."""
    from claw_common.data import db

    if not tokens.is_user_id(user_id):
        return PrincipalState(active=False)

    def load() -> dict[str, Any]:
        with db.connection() as conn:
            row = conn.execute("SELECT role, tier, is_active FROM users WHERE id = %s", (user_id,)).fetchone()
        if row is None:
            return {"active": False}
        return {"active": bool(row["is_active"]), "role": row["role"], "tier": row["tier"]}

    state = _cached(tokens.user_state_key(user_id), load, tokens.PRINCIPAL_CACHE_TTL_S)
    return PrincipalState(
        active=bool(state.get("active")), role=str(state.get("role") or "user"), tier=str(state.get("tier") or "free")
    )


def api_key_active(key_id: str, user_id: str) -> bool:
    """True when the API key exists, belongs to ``user_id`` and is not revoked (cached ~30 s)."""
    from claw_common.data import db

    if not tokens.is_user_id(key_id):
        return False

    def load() -> dict[str, Any]:
        with db.connection() as conn:
            row = conn.execute(
                "SELECT user_id::text AS user_id, revoked_at IS NULL AS active FROM api_keys WHERE id = %s", (key_id,)
            ).fetchone()
        return {"active": False} if row is None else {"active": bool(row["active"]), "user_id": row["user_id"]}

    state = _cached(tokens.api_key_state_key(key_id), load, tokens.PRINCIPAL_CACHE_TTL_S)
    return bool(state.get("active")) and state.get("user_id") == user_id


def forget_principal(*, user_id: str | None = None, api_key_id: str | None = None) -> None:
    """Drop cached state after a change (disable, role/tier change, key revocation) so the
    authorizer and every API see it on their next request. Call after the commit."""
    keys = []
    if user_id:
        keys.append(tokens.user_state_key(user_id))
    if api_key_id:
        keys.append(tokens.api_key_state_key(api_key_id))
    client = _redis_or_none()
    if client is None or not keys:
        return
    import redis as redis_lib

    try:
        client.delete(*keys)
    except (redis_lib.RedisError, OSError):
        # The entries expire within PRINCIPAL_CACHE_TTL_S anyway.
        logger.warning("could not invalidate the principal cache")


# ---------------------------------------------------------------- the first admin


def ensure_admin(email: str, password: str) -> UserRecord:
    """Create an active admin with this email and password, or promote (and re-activate,
    and set the password of) the existing account. Used by ``make admin`` and ``make dev``."""
    from claw_common.data import db

    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise ValueError("not an email address")
    if not 10 <= len(password) <= 128:
        raise ValueError("the admin password must be 10 to 128 characters")
    password_hash = hash_password(password)
    with db.connection() as conn:
        repo = UserRepository(conn)
        found = repo.get_credentials(email)
        if found is None:
            user = repo.create(email=email, password_hash=password_hash, name="Administrator", role="admin")
        else:
            repo.set_password_hash(found[0].id, password_hash)
            updated = repo.update(found[0].id, {"role": "admin", "is_active": True})
            assert updated is not None
            user = updated
    forget_principal(user_id=user.id)
    return user
