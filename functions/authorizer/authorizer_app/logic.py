"""What the auth API does: accounts, sessions (access + refresh tokens), API keys, admin.

Adapters come in as arguments (a database connection factory, a Redis client, the key
ring and settings), built once per container by the small factories at the bottom.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from authorizer_app.models import ApiKeyCreated, ApiKeyList, ApiKeyOut, UserOut
from authorizer_app.repository import ApiKeyRepository, RefreshTokenRepository
from claw_common.auth import accounts
from claw_common.auth.accounts import UserRecord, UserRepository
from claw_common.auth.credentials import generate_api_key, generate_refresh_token, is_user_id, sha256_hex
from claw_common.data.cache_aside import CacheAside
from claw_common.errors import (
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from claw_common.http.pagination import decode_cursor, encode_cursor, invalid_cursor
from claw_common.observability import MetricUnit, logger, metrics
from claw_common.ratelimit.admission import OUTAGE_RETRY_AFTER_S
from claw_common.settings import Settings, get_settings

if TYPE_CHECKING:
    from claw_common.auth.tokens import KeyRing

ConnectionFactory = Callable[[], AbstractContextManager[Any]]
MAX_API_KEYS_PER_USER = 25
BAD_CREDENTIALS = "Incorrect email or password."


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class AuthContext:
    """The adapters and settings every operation needs."""

    connection: ConnectionFactory
    redis: Any
    settings: Settings

    @property
    def ring(self) -> KeyRing:
        """The signing keys, loaded when a token is first issued (Secrets Manager on AWS): most
        requests (me, API keys, users) sign nothing and need neither the keys nor the JWT library."""
        return key_ring()


# ---------------------------------------------------------------- lockout


class LoginThrottle:
    """Failed-login counters in Redis per account and per client IP, over a fixed window.

    Reaching a limit locks further attempts (even with the right password) until the
    window ends: 429 with Retry-After. A successful login resets the account's counter.
    If Redis is unreachable, logins answer 503 (fail closed, as the rate limiter's login
    route group does): without counters, password guessing would be unlimited.
    """

    def __init__(self, redis: Any, *, per_account: int, per_ip: int, window_s: int) -> None:
        self.redis = redis
        self.per_account = per_account
        self.per_ip = per_ip
        self.window_s = window_s

    @staticmethod
    def _account_key(email: str) -> str:
        # Hashed so that the cache never holds email addresses.
        return "claw:auth:fail:acct:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]

    @staticmethod
    def _ip_key(ip: str) -> str:
        return "claw:auth:fail:ip:" + ip[:64]

    def check(self, email: str, ip: str) -> None:
        import redis as redis_lib

        keys = [(self._account_key(email), self.per_account), (self._ip_key(ip), self.per_ip)]
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, _ in keys:
                pipe.get(key)
                pipe.ttl(key)
            values = pipe.execute()
        except (redis_lib.RedisError, OSError) as exc:
            # Fail closed, like the login route group of the rate limiter: without the
            # counters, guessing would be unlimited.
            logger.warning("login throttle unavailable; refusing logins")
            raise DependencyUnavailable(
                "Sign-in is briefly unavailable; try again shortly.",
                headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
            ) from exc
        for i, (_, limit) in enumerate(keys):
            count, ttl = values[2 * i], values[2 * i + 1]
            if count is not None and int(count) >= limit:
                metrics.add_metric(name="LoginLockedOut", unit=MetricUnit.Count, value=1)
                raise RateLimited(
                    "Too many failed sign-in attempts; try again later.",
                    retry_after=int(ttl) if ttl and int(ttl) > 0 else self.window_s,
                )

    def failed(self, email: str, ip: str) -> None:
        import redis as redis_lib

        try:
            pipe = self.redis.pipeline(transaction=True)
            for key in (self._account_key(email), self._ip_key(ip)):
                pipe.incr(key)
                pipe.expire(key, self.window_s, nx=True)
            pipe.execute()
        except (redis_lib.RedisError, OSError):
            logger.warning("login throttle unavailable; failure not counted")

    def succeeded(self, email: str) -> None:
        import redis as redis_lib

        try:
            self.redis.delete(self._account_key(email))
        except (redis_lib.RedisError, OSError):
            logger.warning("login throttle unavailable; counter not reset")


# ---------------------------------------------------------------- accounts and sessions


def register(
    ctx: AuthContext,
    *,
    email: str,
    password: str,
    name: str | None = None,
    company: str | None = None,
    phone: str | None = None,
) -> UserRecord:
    """Create a user (role user, tier free); ``Conflict`` when the email is taken."""
    password_hash = accounts.hash_password(password)
    with ctx.connection() as conn:
        user = UserRepository(conn).create(
            email=email, password_hash=password_hash, name=name, company=company, phone=phone
        )
    metrics.add_metric(name="UserRegistered", unit=MetricUnit.Count, value=1)
    return user


def _issue(ctx: AuthContext, conn: Any, user: UserRecord, family_id: str | None) -> Session:
    from claw_common.auth.tokens import issue_access_token

    refresh, refresh_hash = generate_refresh_token()
    RefreshTokenRepository(conn).add(
        token_hash=refresh_hash, family_id=family_id, user_id=user.id, ttl_s=ctx.settings.refresh_token_ttl_s
    )
    access = issue_access_token(
        ctx.ring,
        user_id=user.id,
        role=user.role,
        tier=user.tier,
        issuer=ctx.settings.jwt_issuer,
        audience=ctx.settings.jwt_audience,
        ttl_s=ctx.settings.access_token_ttl_s,
    )
    return Session(access, refresh, ctx.settings.access_token_ttl_s)


def login(ctx: AuthContext, throttle: LoginThrottle, *, email: str, password: str, ip: str) -> Session:
    """A new session for correct credentials. Unknown email and wrong password give the
    same 401 after the same work (a dummy hash is verified when the email is unknown)."""
    throttle.check(email, ip)
    with ctx.connection() as conn:
        found = UserRepository(conn).get_credentials(email)
    user, password_hash = found if found else (None, None)
    if not accounts.verify_password(password_hash, password) or user is None:
        throttle.failed(email, ip)
        metrics.add_metric(name="LoginFailed", unit=MetricUnit.Count, value=1)
        raise Unauthorized(BAD_CREDENTIALS)
    throttle.succeeded(email)
    if not user.is_active:
        raise Forbidden("This account is disabled.")
    with ctx.connection() as conn:
        repo = UserRepository(conn)
        if password_hash and accounts.needs_rehash(password_hash):
            repo.set_password_hash(user.id, accounts.hash_password(password))
        repo.touch_login(user.id)
        return _issue(ctx, conn, user, family_id=None)


def refresh(ctx: AuthContext, refresh_token: str) -> Session:
    """Rotate: the presented token is used up and its successor joins the family. A token
    presented a second time (stolen or replayed) revokes the whole family."""
    token_hash = sha256_hex(refresh_token)
    reused_family: str | None = None
    with ctx.connection() as conn:
        repo = RefreshTokenRepository(conn)
        row = repo.lock(token_hash)
        if row is None:
            raise Unauthorized("The refresh token is not valid.")
        if row.used_at is not None or row.revoked_at is not None:
            repo.revoke_family(row.family_id)
            reused_family = row.family_id
        elif row.expires_at <= datetime.now(row.expires_at.tzinfo):
            raise Unauthorized("The refresh token has expired; sign in again.")
        else:
            user = UserRepository(conn).get(row.user_id)
            if user is None or not user.is_active:
                raise Unauthorized("The refresh token is not valid.")
            repo.mark_used(row.id)
            return _issue(ctx, conn, user, family_id=row.family_id)
    # Outside the block: the family's revocation is committed before we answer.
    logger.warning("refresh token reuse; family revoked", extra={"family_id": reused_family})
    metrics.add_metric(name="RefreshTokenReuse", unit=MetricUnit.Count, value=1)
    raise Unauthorized("The refresh token is not valid.")


def logout(ctx: AuthContext, *, user_id: str, refresh_token: str | None) -> None:
    """End one session (the refresh token's family) or, without a token, all of the caller's."""
    with ctx.connection() as conn:
        repo = RefreshTokenRepository(conn)
        if refresh_token is None:
            repo.revoke_user(user_id)
            return
        row = repo.lock(sha256_hex(refresh_token))
        # Another user's token is treated like an unknown one: nothing happens.
        if row is not None and row.user_id == user_id:
            repo.revoke_family(row.family_id)


def get_user(ctx: AuthContext, user_id: str) -> UserRecord:
    with ctx.connection() as conn:
        user = UserRepository(conn).get(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


@lru_cache(maxsize=1)
def _profiles() -> CacheAside[UserOut]:
    """Cache-aside of profiles (``GET /auth/me``), dropped whenever the user is changed."""
    return CacheAside("profile", ttl_s=300, model=UserOut)


def get_profile(ctx: AuthContext, user_id: str) -> UserOut:
    """The user's profile, from the cache when it holds it."""
    return _profiles().get_or_load(user_id, lambda: UserOut(**get_user(ctx, user_id).as_dict()))


# ---------------------------------------------------------------- API keys


def create_api_key(ctx: AuthContext, *, user_id: str, name: str) -> ApiKeyCreated:
    """A new key for the caller; the full key is in the result and nowhere else, ever."""
    new = generate_api_key()
    with ctx.connection() as conn:
        repo = ApiKeyRepository(conn)
        # Serialise a user's key creations so the limit holds under concurrency.
        conn.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (user_id,))
        if repo.count_active(user_id) >= MAX_API_KEYS_PER_USER:
            raise Conflict(f"At most {MAX_API_KEYS_PER_USER} active API keys per user; delete one first.")
        row = repo.create(user_id=user_id, name=name, prefix=new.prefix, key_hash=new.key_hash)
    return ApiKeyCreated(**row, key=new.key)


def list_api_keys(ctx: AuthContext, user_id: str) -> ApiKeyList:
    """The caller's active keys (prefixes only; a key is shown once, when it is created)."""
    with ctx.connection() as conn:
        rows = ApiKeyRepository(conn).list_active(user_id)
    return ApiKeyList(items=[ApiKeyOut(**row) for row in rows])


def revoke_api_key(ctx: AuthContext, *, user_id: str, key_id: str) -> None:
    """Revoke one of the caller's keys; 404 for anything else (missing, revoked, not theirs)."""
    with ctx.connection() as conn:
        revoked = ApiKeyRepository(conn).revoke(user_id=user_id, key_id=key_id)
    if not revoked:
        raise NotFound("No such API key.")
    accounts.forget_principal(api_key_id=key_id)


# ---------------------------------------------------------------- admin


def user_cursor(user: UserRecord) -> str:
    return encode_cursor({"c": user.created_at.isoformat(), "i": user.id})


class UserPosition(BaseModel):
    """The position in the users list (by creation time, then id)."""

    model_config = ConfigDict(extra="forbid")

    c: datetime
    i: Annotated[str, Field(strict=True, max_length=64)]


def user_position(cursor: str) -> tuple[datetime, str]:
    position: UserPosition = decode_cursor(cursor, UserPosition)
    if not is_user_id(position.i):
        raise invalid_cursor()
    return position.c, position.i


def list_users(ctx: AuthContext, *, limit: int, cursor: str | None) -> tuple[list[UserRecord], str | None]:
    after = user_position(cursor) if cursor else None
    with ctx.connection() as conn:
        users = UserRepository(conn).page(limit + 1, after)
    if len(users) > limit:
        return users[:limit], user_cursor(users[limit - 1])
    return users, None


def update_user(ctx: AuthContext, *, actor_id: str, user_id: str, changes: dict[str, Any]) -> UserRecord:
    """Change role, tier, active flag or name. Disabling ends the user's sessions; every
    change is visible to the authorizer and all APIs on the next request."""
    if user_id == actor_id and (changes.get("is_active") is False or changes.get("role") == "user"):
        raise Conflict("You cannot disable yourself or remove your own admin role.")
    if not changes:
        raise ValidationFailed("Nothing to change.", errors=[])
    with ctx.connection() as conn:
        user = UserRepository(conn).update(user_id, changes)
        if user is None:
            raise NotFound("No such user.")
        if changes.get("is_active") is False:
            RefreshTokenRepository(conn).revoke_user(user_id)
    accounts.forget_principal(user_id=user_id)
    _profiles().invalidate(user_id)
    logger.info("user updated", extra={"actor": actor_id, "user_id": user_id, "fields": sorted(changes)})
    return user


# ---------------------------------------------------------------- factories


@lru_cache(maxsize=1)
def key_ring() -> KeyRing:
    """The signing keys, read once per container (Secrets Manager on AWS)."""
    from claw_common.auth import tokens
    from claw_common.aws import aws_client

    settings = get_settings()
    local = settings.jwt_signing_keys.get_secret_value() if settings.jwt_signing_keys else None
    return tokens.load_key_ring(local, settings.jwt_secret_arn, lambda: aws_client("secretsmanager"))


def auth_context() -> AuthContext:
    from claw_common.data import db
    from claw_common.data.cache import get_redis

    return AuthContext(connection=db.connection, redis=get_redis(), settings=get_settings())


def login_throttle(ctx: AuthContext) -> LoginThrottle:
    s = ctx.settings
    return LoginThrottle(
        ctx.redis,
        per_account=s.login_max_failures_per_account,
        per_ip=s.login_max_failures_per_ip,
        window_s=s.login_lockout_window_s,
    )
