"""Visitor session tokens: what an assistant's visitors (people without an account) carry.

Like ``claw_common.auth.tokens`` (which this module builds on) it stays free of pydantic,
FastAPI and the settings module: the authorizer verifies these tokens on WebSocket ``$connect``.
A visitor token is an HS256 JWT signed with the platform's key ring, with its own audience
(``claw-visitor``), bound to one assistant (``ast``), one conversation (``cid``) and the page's
origin (``org``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass

from claw_common.auth.tokens import (
    MAX_TOKEN_LENGTH,
    KeyRing,
    TokenError,
    is_user_id,
    sign_hs256,
    verified_claims,
)

VISITOR_AUDIENCE = "claw-visitor"
"""The audience of visitor session tokens: never accepted where an access token is expected
(their audience differs), and accepted only by an assistant's public routes and the
WebSocket ``$connect`` of that assistant's chat."""
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_PUBLIC_ID = re.compile(r"^ast_[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class VisitorClaims:
    """The verified claims of a visitor session token."""

    visitor_id: str
    assistant: str
    conversation_id: str
    origin: str
    iat: int
    exp: int


def is_public_assistant_id(value: object) -> bool:
    """True for the shape of an assistant's public id (``ast_`` + 16-64 URL-safe characters)."""
    return isinstance(value, str) and _PUBLIC_ID.match(value) is not None


def issue_visitor_token(
    ring: KeyRing,
    *,
    visitor_id: str,
    assistant: str,
    conversation_id: str,
    origin: str,
    issuer: str,
    ttl_s: int,
    now: int | None = None,
) -> str:
    """A visitor session token: bound to one assistant (``ast``), its conversation (``cid``) and
    the page's origin (``org``, empty when the request had none); HS256 with the ring's current key."""
    issued = int(time.time() if now is None else now)
    key = ring.current
    claims = {
        "iss": issuer,
        "aud": VISITOR_AUDIENCE,
        "sub": visitor_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_s),
        "jti": uuid.uuid4().hex,
        "ast": assistant,
        "cid": conversation_id,
        "org": origin,
    }
    return sign_hs256(key, claims)


def verify_visitor_token(ring: KeyRing, token: str, *, issuer: str, now: int | None = None) -> VisitorClaims:
    """Verify a visitor session token (same checks as access tokens, audience ``claw-visitor``)."""
    claims = verified_claims(ring, token, issuer=issuer, audience=VISITOR_AUDIENCE, now=now)
    visitor_id, assistant, cid, origin = (claims.get(k) for k in ("sub", "ast", "cid", "org"))
    if not is_user_id(visitor_id) or not is_user_id(cid):
        raise TokenError("visitor or conversation id malformed")
    if not is_public_assistant_id(assistant):
        raise TokenError("assistant id malformed")
    if not isinstance(origin, str) or len(origin) > 300:
        raise TokenError("origin malformed")
    return VisitorClaims(str(visitor_id), str(assistant), str(cid), origin, claims["iat"], claims["exp"])


def token_audience(token: str) -> str | None:
    """The ``aud`` of a compact JWS, read WITHOUT verifying it: only to choose which verifier
    to run (each verifier pins its own audience, so a lie here only picks a failing check)."""
    parts = token.split(".") if isinstance(token, str) and len(token) <= MAX_TOKEN_LENGTH else []
    if len(parts) != 3 or not _B64URL.match(parts[1]):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    aud = payload.get("aud") if isinstance(payload, dict) else None
    return aud if isinstance(aud, str) else None
