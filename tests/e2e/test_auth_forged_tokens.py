"""Forged, tampered and malformed credentials: every one is a 401 problem from the gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from typing import Any

import pytest

from claw_common.auth.tokens import parse_key_ring
from tests.auth_helpers import new_user

ISS, AUD = "https://claw.ai", "claw-api"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None, digest: Any = hashlib.sha256) -> str:
    """A compact JWS built by hand, so that headers no library would write can be tested."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), digest).digest() if secret is not None else b""
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture(scope="module")
def victim(api: Any) -> Any:
    return new_user(api)


@pytest.fixture(scope="module")
def key(platform: Any) -> Any:
    return parse_key_ring(os.environ["JWT_SIGNING_KEYS"]).current


def _claims(user_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": user_id, "iat": now, "nbf": now, "exp": now + 600, "role": "admin"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _authorization_values(user_id: str, kid: str, secret: bytes) -> dict[str, str]:
    hs = {"alg": "HS256", "typ": "JWT", "kid": kid}
    now = int(time.time())
    valid = forge(hs, _claims(user_id), secret)
    head, _, sig = valid.split(".")
    tampered_payload = _b64(json.dumps(_claims(user_id, tier="enterprise")).encode())
    return {
        "alg none": forge({"alg": "none", "typ": "JWT", "kid": kid}, _claims(user_id), None),
        "alg None mixed case": forge({"alg": "nOnE", "kid": kid}, _claims(user_id), None),
        "HS/RS confusion (RS256 header, HMAC with our secret)": forge({**hs, "alg": "RS256"}, _claims(user_id), secret),
        "HS512 instead of the pinned HS256": forge({**hs, "alg": "HS512"}, _claims(user_id), secret, hashlib.sha512),
        "wrong aud": forge(hs, _claims(user_id, aud="someone-else"), secret),
        "wrong iss": forge(hs, _claims(user_id, iss="https://evil.example"), secret),
        "look-alike iss": forge(hs, _claims(user_id, iss="https://claw.ai.evil.example"), secret),
        "look-alike iss (trailing slash)": forge(hs, _claims(user_id, iss="https://claw.ai/"), secret),
        "expired beyond the leeway": forge(hs, _claims(user_id, iat=now - 1000, nbf=now - 1000, exp=now - 60), secret),
        "nbf in the future": forge(hs, _claims(user_id, nbf=now + 300), secret),
        "iat in the future": forge(hs, _claims(user_id, iat=now + 3600), secret),
        "missing exp": forge(hs, _claims(user_id, exp=None), secret),
        "missing aud": forge(hs, _claims(user_id, aud=None), secret),
        "missing sub": forge(hs, _claims(user_id, sub=None), secret),
        "sub of no user": forge(hs, _claims(str(uuid.uuid4())), secret),
        "sub not a user id": forge(hs, _claims("admin"), secret),
        "tampered payload": f"{head}.{tampered_payload}.{sig}",
        "wrong key": forge(hs, _claims(user_id), secrets.token_bytes(48)),
        "kid missing": forge({"alg": "HS256", "typ": "JWT"}, _claims(user_id), secret),
        "kid path traversal": forge({**hs, "kid": "../../../../etc/passwd"}, _claims(user_id), secret),
        "kid SQL": forge({**hs, "kid": "x' UNION SELECT 'secret' --"}, _claims(user_id), secret),
        "kid URL": forge({**hs, "kid": "https://evil.example/keys.json"}, _claims(user_id), secret),
        "kid unknown": forge({**hs, "kid": "k-does-not-exist"}, _claims(user_id), secret),
        "unknown crit": forge({**hs, "crit": ["x-claw"], "x-claw": 1}, _claims(user_id), secret),
        "embedded jwk": forge({**hs, "jwk": {"kty": "oct", "k": _b64(b"k" * 32)}}, _claims(user_id), secret),
        "garbage": "not-a-token",
        "three garbage segments": "abc.def.ghi",
        "JWE-shaped (five segments)": "a.b.c.d.e",
        "oversized header": "x" * 5000,
    }


CASES = [
    "alg none",
    "alg None mixed case",
    "HS/RS confusion (RS256 header, HMAC with our secret)",
    "HS512 instead of the pinned HS256",
    "wrong aud",
    "wrong iss",
    "look-alike iss",
    "look-alike iss (trailing slash)",
    "expired beyond the leeway",
    "nbf in the future",
    "iat in the future",
    "missing exp",
    "missing aud",
    "missing sub",
    "sub of no user",
    "sub not a user id",
    "tampered payload",
    "wrong key",
    "kid missing",
    "kid path traversal",
    "kid SQL",
    "kid URL",
    "kid unknown",
    "unknown crit",
    "embedded jwk",
    "garbage",
    "three garbage segments",
    "JWE-shaped (five segments)",
    "oversized header",
]


def _assert_gateway_401(resp: Any) -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["status"] == 401


def test_a_correctly_signed_token_is_accepted(api: Any, victim: Any, key: Any) -> None:
    # The control: the forging helper itself makes tokens the platform accepts.
    token = forge({"alg": "HS256", "typ": "JWT", "kid": key.kid}, _claims(victim.id), key.secret)
    resp = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert resp.json()["id"] == victim.id


@pytest.mark.parametrize("case", CASES)
def test_forged_or_invalid_bearer_token_is_401(api: Any, victim: Any, key: Any, case: str) -> None:
    token = _authorization_values(victim.id, key.kid, key.secret)[case]
    resp = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    _assert_gateway_401(resp)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer a b",
        "Token abc",
        "ApiKey not-a-key",
        "ApiKey claw_00000000_" + "A" * 43,
        "Bearer claw_00000000_" + "A" * 43,
        "Bearer \u00e9t\u00e9".encode(),
    ],
)
def test_garbage_authorization_headers_are_401(api: Any, authorization: str | bytes) -> None:
    resp = api.get("/api/v1/auth/me", headers={"Authorization": authorization})
    _assert_gateway_401(resp)
