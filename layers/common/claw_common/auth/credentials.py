"""API keys, refresh tokens and the cached principal state: the credential pieces without JWT.

Split from ``tokens`` so that every API, which checks a caller's current state
(``accounts.user_state``), imports neither joserfc nor cryptography: only the authorizer and
the auth API verify or issue access tokens. ``tokens`` re-exports everything here.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

API_KEY_PREFIX = "claw_"
# claw_<8 hex public id>_<43 chars of secret>: the first 13 characters are the visible prefix.
_API_KEY = re.compile(r"^claw_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
API_KEY_VISIBLE_CHARS = 13

# Redis entries shared by the authorizer (which fills them) and the APIs (which read and
# invalidate them). Short TTLs bound how stale a missed invalidation can be.
PRINCIPAL_CACHE_TTL_S = 30
API_KEY_LOOKUP_TTL_S = 300


def is_user_id(value: object) -> TypeGuard[str]:
    """True for a canonical (lower-case) UUID string, the platform's id kind."""
    return isinstance(value, str) and _UUID.match(value) is not None


# ---------------------------------------------------------------- API keys and refresh tokens


def sha256_hex(value: str) -> str:
    """The stored form of an API key or refresh token (both are 256-bit random, so a plain,
    fast hash is enough: there is nothing to brute-force)."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    key: str
    prefix: str
    key_hash: str


def generate_api_key() -> NewApiKey:
    """A new API key: ``claw_<8 hex>_<43 url-safe chars>`` (256 bits of secret)."""
    key = f"{API_KEY_PREFIX}{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
    return NewApiKey(key=key, prefix=key[:API_KEY_VISIBLE_CHARS], key_hash=sha256_hex(key))


def looks_like_api_key(value: str) -> bool:
    """True when ``value`` has the exact shape of one of our API keys."""
    return len(value) < 100 and _API_KEY.match(value) is not None


def generate_refresh_token() -> tuple[str, str]:
    """A new opaque refresh token and its stored hash."""
    token = secrets.token_urlsafe(32)
    return token, sha256_hex(token)


# ---------------------------------------------------------------- principal state cache (Redis)


def user_state_key(user_id: str) -> str:
    """Redis key of a user's cached ``{"active", "role", "tier"}``."""
    return f"claw:auth:user:{user_id}"


def api_key_state_key(key_id: str) -> str:
    """Redis key of an API key's cached ``{"user_id", "active"}``."""
    return f"claw:auth:apikey:{key_id}"


def api_key_lookup_key(key_hash: str) -> str:
    """Redis key mapping an API key's hash to its id (immutable, so it may live longer)."""
    return f"claw:auth:apikey-hash:{key_hash}"


def encode_state(state: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(state), separators=(",", ":")).encode()


def decode_state(raw: bytes | str | None) -> dict[str, Any] | None:
    """A cached state, or None when missing or unreadable (then the caller asks the database)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
