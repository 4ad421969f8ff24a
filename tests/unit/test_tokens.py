"""Access tokens, key rings, API-key shapes and the password policy (pure logic)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from claw_common.auth.tokens import (
    LEEWAY_S,
    KeyRing,
    TokenError,
    generate_api_key,
    issue_access_token,
    looks_like_api_key,
    parse_key_ring,
    verify_access_token,
)

SECRET = "s" * 48


def _ring() -> KeyRing:
    return parse_key_ring({"kid": "k1", "secret": SECRET})


def test_every_key_ring_form_parses_and_the_first_key_signs() -> None:
    flat = parse_key_ring(json.dumps({"kid": "k1", "secret": SECRET}))
    listed = parse_key_ring(json.dumps({"keys": [{"kid": "k2", "secret": "t" * 40}, {"kid": "k1", "secret": SECRET}]}))
    mapping = parse_key_ring(json.dumps({"k2": "t" * 40, "k1": SECRET}))
    assert flat.current.kid == "k1"
    assert listed.current.kid == mapping.current.kid == "k2"
    assert listed.get("k1") is not None and listed.get("../k1") is None


@pytest.mark.parametrize(
    "raw",
    [
        "[]",
        json.dumps({"kid": "k1", "secret": "short"}),
        json.dumps({"kid": "../etc", "secret": SECRET}),
        json.dumps({"keys": []}),
        json.dumps({"keys": [{"kid": "a", "secret": SECRET}, {"kid": "a", "secret": SECRET}]}),
    ],
)
def test_bad_key_rings_are_refused_at_start(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_key_ring(raw)


def test_a_token_round_trips_with_its_claims() -> None:
    user_id = str(uuid.uuid4())
    token = issue_access_token(_ring(), user_id=user_id, role="admin", tier="pro", issuer="i", audience="a", ttl_s=60)
    claims = verify_access_token(_ring(), token, issuer="i", audience="a")
    assert (claims.sub, claims.role, claims.tier) == (user_id, "admin", "pro")
    assert claims.exp - claims.iat == 60


def test_expiry_allows_the_leeway_and_no_more() -> None:
    now = int(time.time())
    token = issue_access_token(
        _ring(), user_id=str(uuid.uuid4()), role="user", tier="free", issuer="i", audience="a", ttl_s=60, now=now
    )
    verify_access_token(_ring(), token, issuer="i", audience="a", now=now + 60 + LEEWAY_S - 5)
    with pytest.raises(TokenError):
        verify_access_token(_ring(), token, issuer="i", audience="a", now=now + 60 + LEEWAY_S + 5)


def test_api_keys_have_one_recognisable_shape() -> None:
    new = generate_api_key()
    assert looks_like_api_key(new.key) and new.key.startswith(new.prefix) and len(new.prefix) == 13
    assert new.key_hash != new.key and len(new.key_hash) == 64
    assert not looks_like_api_key(new.key + "x") and not looks_like_api_key("claw_" + "0" * 60)
    assert generate_api_key().key != new.key
