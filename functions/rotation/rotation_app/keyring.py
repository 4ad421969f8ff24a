"""The next JWT key ring: a new key first (it signs), the previous keys after it (they verify).

Pure functions over ``claw_common.auth.tokens``' key ring format, so the rotation and the
functions that read the ring agree on it by construction.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from claw_common.auth.tokens import KeyRing, SigningKey, parse_key_ring

# Keys a ring keeps: the new one and the one before it. A token lives 15 minutes and a
# rotation comes every few weeks, so the previous key verifies every token still alive.
KEYS_KEPT = 2
SECRET_BYTES = 48


def new_kid(request_token: str, now: datetime | None = None) -> str:
    """A kid naming the day and the rotation's request (unique, and readable in logs)."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    suffix = "".join(c for c in request_token if c.isalnum())[:8] or "x"
    return f"k{day}-{suffix}"


def next_ring(current: KeyRing, kid: str, secret: str | None = None) -> KeyRing:
    """``current`` with a new signing key in front, trimmed to ``KEYS_KEPT`` keys."""
    if current.get(kid) is not None:
        raise ValueError(f"kid {kid} is already in the ring")
    key = SigningKey(kid, (secret or secrets.token_urlsafe(SECRET_BYTES)).encode())
    return KeyRing((key, *current.keys[: KEYS_KEPT - 1]))


def ring_json(ring: KeyRing) -> str:
    """The ring as the secret stores it: ``{"keys": [{"kid", "secret"}, ...]}``, signing key first."""
    return json.dumps({"keys": [{"kid": k.kid, "secret": k.secret.decode()} for k in ring.keys]})


def check_pending(current: KeyRing, pending: KeyRing) -> None:
    """Refuse a pending ring that would strand live tokens or sign with an old key."""
    if pending.current.kid == current.current.kid:
        raise ValueError("the pending ring signs with the current key")
    if pending.get(current.current.kid) is None:
        raise ValueError("the pending ring drops the key that signs today's tokens")


def parse(secret_string: str) -> KeyRing:
    return parse_key_ring(secret_string)
