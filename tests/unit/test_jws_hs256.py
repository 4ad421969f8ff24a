"""The authorizer's HS256 verifier gives joserfc's own verdict on every token, without its x509 stack."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jws import JWSRegistry

from claw_common.auth import jws_hs256
from claw_common.auth.tokens import TokenError, issue_access_token, parse_key_ring, verify_access_token

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"s" * 48


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forge(header: Any, payload: bytes, secret: bytes | None = SECRET, digest: Any = hashlib.sha256) -> str:
    head = _b64(header if isinstance(header, bytes) else json.dumps(header).encode())
    signing_input = f"{head}.{_b64(payload)}"
    signature = hmac.new(secret, signing_input.encode(), digest).digest() if secret is not None else b""
    return f"{signing_input}.{_b64(signature)}"


def _claims(**changes: Any) -> bytes:
    now = int(time.time())
    claims = {"iss": "i", "aud": "a", "sub": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 60}
    claims.update(changes)
    return json.dumps({k: v for k, v in claims.items() if v is not None}).encode()


HS = {"alg": "HS256", "typ": "JWT", "kid": "k1"}
valid = _forge(HS, _claims())
head, body, sig = valid.split(".")
TOKENS = {
    "valid": valid,
    "valid, no typ or kid": _forge({"alg": "HS256"}, _claims()),
    "wrong key": _forge(HS, _claims(), b"t" * 48),
    "alg none": _forge({**HS, "alg": "none"}, _claims(), None),
    "alg nOnE": _forge({**HS, "alg": "nOnE"}, _claims(), None),
    "alg RS256 with the HMAC": _forge({**HS, "alg": "RS256"}, _claims()),
    "alg HS512": _forge({**HS, "alg": "HS512"}, _claims(), digest=hashlib.sha512),
    "alg missing": _forge({"typ": "JWT"}, _claims()),
    "alg not a string": _forge({**HS, "alg": 256}, _claims()),
    "kid not a string": _forge({**HS, "kid": 1}, _claims()),
    "unknown header parameter": _forge({**HS, "x-claw": 1}, _claims()),
    "unknown crit": _forge({**HS, "crit": ["x-claw"], "x-claw": 1}, _claims()),
    "crit names a missing header": _forge({**HS, "crit": ["exp"]}, _claims()),
    "embedded jwk": _forge({**HS, "jwk": {"kty": "oct", "k": _b64(b"k" * 32)}}, _claims()),
    "jku not a url": _forge({**HS, "jku": 5}, _claims()),
    "b64 false without crit": _forge({**HS, "b64": False}, _claims()),
    "b64 true": _forge({**HS, "b64": True}, _claims()),
    "header is a list": _forge(b'["alg"]', _claims()),
    "header not json": _forge(b"{not json", _claims()),
    "header oversized": _forge({**HS, "cty": "x" * 600}, _claims()),
    "payload not json": _forge(HS, b"not json"),
    "payload a list": _forge(HS, b"[1, 2]"),
    "payload empty": _forge(HS, b""),
    "payload oversized": _forge(HS, json.dumps({"x": "y" * 130_000}).encode()),
    "tampered payload": f"{head}.{_b64(_claims(sub='someone-else'))}.{sig}",
    "signature with padding": f"{head}.{body}.{sig}=",
    "signature not base64url": f"{head}.{body}.{sig[:-2]}+/",
    "signature non-canonical last character": f"{head}.{body}.{sig[:-1]}{'B' if sig[-1] != 'B' else 'C'}",
    "signature empty": f"{head}.{body}.",
    "signature oversized": f"{head}.{body}.{'A' * 1100}",
    "payload segment with padding": f"{head}.{body}=.{sig}",
    "two segments": f"{head}.{body}",
    "four segments": f"{head}.{body}.{sig}.x",
    "five segments (JWE shape)": "a.b.c.d.e",
    "garbage": "not-a-token",
    "empty": "",
}


def _joserfc_verdict(token: str) -> tuple[str, Any]:
    """What the authorizer got before: joserfc.jwt.decode with our key and registry."""
    try:
        decoded = jwt.decode(
            token, OctKey.import_key(SECRET), algorithms=["HS256"], registry=JWSRegistry(algorithms=["HS256"])
        )
    except JoseError as exc:
        return "JoseError", type(exc).__name__
    except (ValueError, TypeError) as exc:
        return "malformed", type(exc).__name__
    return "ok", (decoded.header, decoded.claims)


def _our_verdict(token: str) -> tuple[str, Any]:
    try:
        header, claims = jws_hs256.decode_hs256(token, SECRET)
    except JoseError as exc:
        return "JoseError", type(exc).__name__
    except (ValueError, TypeError) as exc:
        return "malformed", type(exc).__name__
    return "ok", (header, claims)


@pytest.mark.parametrize("case", list(TOKENS))
def test_each_token_gets_the_verdict_joserfc_jwt_decode_gives(case: str) -> None:
    # Given a token as a client could send it
    token = TOKENS[case]
    # When both verify it with the same key, Then they agree (accept with the same header and
    # claims, or refuse with the same joserfc error)
    assert _our_verdict(token) == _joserfc_verdict(token)


def test_the_valid_controls_are_accepted_and_forgeries_refused() -> None:
    # Guards the corpus itself: a test where everything fails (or passes) would prove nothing.
    verdicts = {case: _our_verdict(token)[0] for case, token in TOKENS.items()}
    # (joserfc accepts a registered "jwk" header it does not use; tokens.verified_claims refuses it first.)
    accepted = {"valid", "valid, no typ or kid", "b64 true", "embedded jwk"}
    assert {case for case, v in verdicts.items() if v == "ok"} == accepted


def test_an_empty_key_verifies_nothing() -> None:
    with pytest.raises(ValueError):
        jws_hs256.decode_hs256(_forge(HS, _claims(), b""), b"")


def test_the_private_joserfc_parts_are_the_ones_its_public_api_uses() -> None:
    # A joserfc upgrade that moves them fails here, not in production.
    from joserfc._rfc7515 import registry as jws_registry
    from joserfc._rfc7515.compact import decode_header

    assert jws_hs256.JWTClaimsRegistry is jwt.JWTClaimsRegistry
    assert jws_hs256.decode_header is decode_header
    assert jws_registry.JWS_HEADER_REGISTRY is jws_hs256.JWS_HEADER_REGISTRY
    registry = JWSRegistry(algorithms=["HS256"])
    assert (registry.max_header_length, registry.max_payload_length, registry.max_signature_length) == (
        jws_hs256.MAX_HEADER_LENGTH,
        jws_hs256.MAX_PAYLOAD_LENGTH,
        jws_hs256.MAX_SIGNATURE_LENGTH,
    )


def test_tokens_issued_by_joserfc_verify_and_a_flipped_bit_does_not() -> None:
    ring = parse_key_ring({"kid": "k1", "secret": SECRET.decode()})
    token = issue_access_token(
        ring, user_id=str(uuid.uuid4()), role="user", tier="pro", issuer="i", audience="a", ttl_s=60
    )
    assert verify_access_token(ring, token, issuer="i", audience="a").tier == "pro"
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(TokenError, match="BadSignatureError"):
        verify_access_token(ring, flipped, issuer="i", audience="a")


def test_verifying_a_token_imports_no_asymmetric_crypto_or_x509() -> None:
    # Given a fresh process that verifies an access token the way the authorizer does
    code = (
        "import json, sys, time, uuid, base64, hmac, hashlib\n"
        "from claw_common.auth import tokens\n"
        "ring = tokens.parse_key_ring({'kid': 'k1', 'secret': 's' * 48})\n"
        "b = lambda d: base64.urlsafe_b64encode(d).decode().rstrip('=')\n"
        "now = int(time.time())\n"
        "claims = {'iss': 'i', 'aud': 'a', 'sub': str(uuid.uuid4()), 'iat': now, 'exp': now + 60}\n"
        "si = b(json.dumps({'alg': 'HS256', 'kid': 'k1'}).encode()) + '.' + b(json.dumps(claims).encode())\n"
        "token = si + '.' + b(hmac.new(b's' * 48, si.encode(), hashlib.sha256).digest())\n"
        "tokens.verify_access_token(ring, token, issuer='i', audience='a')\n"
        "heavy = ('cryptography', 'joserfc.jwk', 'joserfc.jws', 'joserfc.jwe', 'joserfc.jwt')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)
    # Then nothing of joserfc's key machinery (nor cryptography) was loaded
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
