"""Access tokens, API keys and refresh tokens: what the authorizer and the auth API share.

This module must stay free of pydantic, FastAPI and the settings module: the authorizer
imports it on every cold start (it runs before every request). It holds

* the signing key ring (``kid`` -> HS256 secret; the first key signs, every key verifies,
  so a rotated key keeps older tokens valid until they expire),
* issuing and verifying access tokens with joserfc (HS256 pinned, ``exp``/``iat``/``sub``/
  ``iss``/``aud`` required, 30 s leeway, unknown ``crit`` and unknown ``kid`` refused).
  Verifying goes through ``claw_common.auth.jws_hs256`` (joserfc's parsing, header and claims
  checks without its RSA/EC/x509 machinery, ~60 ms of the authorizer's cold start); issuing
  imports ``joserfc.jwt`` when the first token is signed (the auth API only),
* the format and hashing of API keys and refresh tokens (only hashes are stored),
* the names of the short-lived Redis entries that cache a principal's state, so the
  authorizer and every API agree on them (and the auth API can invalidate them).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError

from claw_common.auth.credentials import (  # noqa: F401 - re-exported: the authorizer and auth API use them here
    API_KEY_LOOKUP_TTL_S,
    API_KEY_PREFIX,
    API_KEY_VISIBLE_CHARS,
    PRINCIPAL_CACHE_TTL_S,
    NewApiKey,
    api_key_lookup_key,
    api_key_state_key,
    decode_state,
    encode_state,
    generate_api_key,
    generate_refresh_token,
    is_user_id,
    looks_like_api_key,
    sha256_hex,
    user_state_key,
)
from claw_common.auth.jws_hs256 import JWTClaimsRegistry, decode_hs256

ACCESS_TOKEN_ALG = "HS256"
# Clock skew tolerated on exp/nbf/iat; the brief caps it at 30 s.
LEEWAY_S = 30
# Our tokens are ~400 bytes; anything much longer is garbage or an attack on the parser.
MAX_TOKEN_LENGTH = 4096
# HS256 wants a key at least as long as the hash output (RFC 7518 §3.2).
MIN_SECRET_BYTES = 32
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
# Header parameters we understand; anything listed in "crit" must be one of these (none are).
_UNDERSTOOD_CRIT: frozenset[str] = frozenset()


class TokenError(Exception):
    """A credential is not valid. The message is for logs only, never for the client."""


class UnknownKidError(TokenError):
    """The token names a key this ring does not hold (forged, or signed after a rotation)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes


@dataclass(frozen=True)
class KeyRing:
    """Signing keys by ``kid``: the first signs, all verify."""

    keys: tuple[SigningKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a key ring needs at least one key")
        kids = [k.kid for k in self.keys]
        if len(kids) != len(set(kids)):
            raise ValueError("duplicate kid in the key ring")

    @property
    def current(self) -> SigningKey:
        return self.keys[0]

    def get(self, kid: str) -> SigningKey | None:
        # A plain dict lookup: a kid is never used to build a path, a query or a URL.
        return {k.kid: k for k in self.keys}.get(kid)


def _signing_key(kid: Any, secret: Any) -> SigningKey:
    if not isinstance(kid, str) or not _KID.match(kid):
        raise ValueError("a signing key's kid must be 1-64 characters of [A-Za-z0-9._-]")
    if not isinstance(secret, str) or len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"a signing key's secret must be a string of at least {MIN_SECRET_BYTES} bytes")
    return SigningKey(kid, secret.encode())


def parse_key_ring(raw: str | Mapping[str, Any]) -> KeyRing:
    """Parse signing keys from JSON in any of the forms we ship.

    * ``{"kid": "k1", "secret": "..."}`` - one key (what the template's secret and the local
      platform generate);
    * ``{"keys": [{"kid": "k2", "secret": "..."}, {"kid": "k1", "secret": "..."}]}`` - a
      rotation: the first signs, all verify;
    * ``{"k2": "secret", "k1": "secret"}`` - a plain map in the same order.
    """
    data: Any = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(data, Mapping):
        raise ValueError("signing keys must be a JSON object")
    if "keys" in data:
        items = data["keys"]
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise ValueError('"keys" must be a list of {"kid", "secret"} objects')
        return KeyRing(tuple(_signing_key(i.get("kid"), i.get("secret")) for i in items))
    if "secret" in data:
        return KeyRing((_signing_key(data.get("kid", "default"), data["secret"]),))
    return KeyRing(tuple(_signing_key(kid, secret) for kid, secret in data.items()))


def load_key_ring(
    signing_keys_json: str | None,
    secret_arn: str | None,
    secretsmanager: Callable[[], Any] | None = None,
) -> KeyRing:
    """The key ring from an environment value (local) or a Secrets Manager secret (AWS).

    ``secretsmanager`` creates the boto3 client only when the secret must be fetched.
    """
    if signing_keys_json:
        return parse_key_ring(signing_keys_json)
    if secret_arn and secretsmanager is not None:
        value = secretsmanager().get_secret_value(SecretId=secret_arn)
        return parse_key_ring(value["SecretString"])
    raise RuntimeError("no JWT signing keys: set JWT_SIGNING_KEYS (local) or JWT_SECRET_ARN (AWS)")


class KeyRingSource:
    """The key ring of a long-lived process, loaded once and reloaded after a rotation.

    A rotation puts a new key first (it signs from then on) and keeps the previous one
    (it still verifies). A warm container that loaded the ring before the rotation meets
    tokens with the new ``kid``: ``verify`` then reloads the ring once and tries again. A
    forged ``kid`` cannot turn every request into a Secrets Manager call: reloads happen
    at most once per ``min_reload_interval_s``.
    """

    def __init__(
        self,
        load: Callable[[], KeyRing],
        *,
        min_reload_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._min_reload_interval_s = min_reload_interval_s
        self._clock = clock
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0

    def ring(self) -> KeyRing:
        if self._ring is None:
            self._ring, self._loaded_at = self._load(), self._clock()
        return self._ring

    def verify(self, token: str, *, issuer: str, audience: str) -> AccessClaims:
        """``verify_access_token`` against the ring, reloading it once for an unknown ``kid``."""
        try:
            return verify_access_token(self.ring(), token, issuer=issuer, audience=audience)
        except UnknownKidError:
            if self._clock() - self._loaded_at < self._min_reload_interval_s:
                raise
            self._ring, self._loaded_at = self._load(), self._clock()
            return verify_access_token(self._ring, token, issuer=issuer, audience=audience)


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims of an access token."""

    sub: str
    role: str
    tier: str
    iat: int
    exp: int
    jti: str


def issue_access_token(
    ring: KeyRing,
    *,
    user_id: str,
    role: str,
    tier: str,
    issuer: str,
    audience: str,
    ttl_s: int,
    now: int | None = None,
) -> str:
    """A signed access token (HS256, the ring's current key, its kid in the header)."""
    issued = int(time.time() if now is None else now)
    key = ring.current
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_s),
        "jti": uuid.uuid4().hex,
        "role": role,
        "tier": tier,
    }
    return sign_hs256(key, claims)


def sign_hs256(key: SigningKey, claims: dict[str, Any]) -> str:
    """A compact JWS of ``claims`` (HS256, ``key``'s kid in the header), signed by joserfc."""
    from joserfc import jwt
    from joserfc.jwk import OctKey

    header = {"alg": ACCESS_TOKEN_ALG, "typ": "JWT", "kid": key.kid}
    return jwt.encode(header, claims, OctKey.import_key(key.secret), algorithms=[ACCESS_TOKEN_ALG])


def _b64_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise TokenError("undecodable segment") from exc


def verify_access_token(
    ring: KeyRing, token: str, *, issuer: str, audience: str, now: int | None = None
) -> AccessClaims:
    """Verify an access token and return its claims, or raise ``TokenError``.

    See :func:`verified_claims` for what is checked.
    """
    claims = verified_claims(ring, token, issuer=issuer, audience=audience, now=now)
    sub = claims.get("sub")
    if not is_user_id(sub):
        raise TokenError("sub is not a user id")
    return AccessClaims(
        sub=sub,
        role=str(claims.get("role") or "user"),
        tier=str(claims.get("tier") or "free"),
        iat=claims["iat"],
        exp=claims["exp"],
        jti=str(claims.get("jti") or ""),
    )


def verified_claims(ring: KeyRing, token: str, *, issuer: str, audience: str, now: int | None = None) -> dict[str, Any]:
    """The claims of a token signed by one of ``ring``'s keys for ``issuer`` and ``audience``.

    The header is checked before any cryptography: compact JWS only, ``alg`` exactly HS256
    (no ``none``, no RS/HS confusion), a ``kid`` that is one of ours, no ``crit`` we do not
    understand, no key-carrying headers (``jwk``, ``jku``, ``x5u``, ``x5c``).
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("token missing or too long")
    parts = token.split(".")
    if len(parts) != 3 or not all(p and _B64URL.match(p) for p in parts):
        raise TokenError("not a compact JWS")
    header = _b64_json(parts[0])
    if not isinstance(header, dict):
        raise TokenError("header is not an object")
    if header.get("alg") != ACCESS_TOKEN_ALG:
        raise TokenError("algorithm not allowed")
    if header.get("typ") not in (None, "JWT", "at+jwt"):
        raise TokenError("unexpected typ")
    crit = header.get("crit")
    if crit is not None and (not isinstance(crit, list) or not set(map(str, crit)) <= _UNDERSTOOD_CRIT):
        raise TokenError("unknown critical header")
    if any(name in header for name in ("jwk", "jku", "x5u", "x5c", "b64", "zip")):
        raise TokenError("unsupported header parameter")
    kid = header.get("kid")
    if not isinstance(kid, str) or not _KID.match(kid):
        raise TokenError("kid missing or malformed")
    signing_key = ring.get(kid)
    if signing_key is None:
        raise UnknownKidError("unknown kid")

    current = int(time.time() if now is None else now)
    try:
        # What jwt.decode(token, OctKey(secret), algorithms=["HS256"], registry=JWSRegistry(["HS256"]))
        # does, without importing joserfc's other algorithms (see claw_common.auth.jws_hs256).
        _, decoded = decode_hs256(token, signing_key.secret)
        registry = JWTClaimsRegistry(
            now=current,
            leeway=LEEWAY_S,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(decoded)
    except JoseError as exc:
        raise TokenError(f"rejected by joserfc: {type(exc).__name__}") from exc
    except (ValueError, TypeError) as exc:
        raise TokenError("malformed token") from exc

    claims = dict(decoded)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int) or isinstance(exp, bool) or isinstance(iat, bool):
        raise TokenError("exp/iat must be integers")
    return claims
