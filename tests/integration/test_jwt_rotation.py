"""JWT signing-key rotation against moto's Secrets Manager: new key signs, old key still verifies."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from claw_common.auth import tokens

ISSUER, AUDIENCE = "https://claw.ai", "claw-api"
FIRST = {"kid": "k1", "secret": "s" * 64}
USER_ID = str(uuid.uuid4())


@pytest.fixture()
def secrets_client(platform: Any) -> Iterator[Any]:
    """The platform's emulated Secrets Manager (moto), which the rotation function reaches
    through AWS_ENDPOINT_URL as it would reach Secrets Manager on AWS."""
    from claw_common.aws import aws_client
    from rotation_app import handler

    handler.secretsmanager.cache_clear()
    yield aws_client("secretsmanager")
    handler.secretsmanager.cache_clear()


def _start_rotation(client: Any, arn: str) -> str:
    """The request token Secrets Manager passes to every step of one rotation."""
    return str(uuid.uuid4())


def _current(client: Any, arn: str) -> str:
    # By label, as the functions read it (moto's unlabelled read lags behind a stage move).
    return str(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


def _rotate(client: Any, arn: str) -> str:
    from rotation_app.handler import lambda_handler

    token = _start_rotation(client, arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        lambda_handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, _Context())
    return token


class _Context:
    function_name = "claw-ai-test-jwt-rotation"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:claw-ai-test-jwt-rotation"
    aws_request_id = "rotation-test"


def _issue(ring: tokens.KeyRing) -> str:
    return tokens.issue_access_token(
        ring, user_id=USER_ID, role="user", tier="free", issuer=ISSUER, audience=AUDIENCE, ttl_s=900
    )


def test_a_rotation_signs_with_a_new_key_and_keeps_verifying_old_tokens(secrets_client: Any) -> None:
    # Given the template's first secret and a token signed with it
    arn = secrets_client.create_secret(
        Name=f"claw-ai/test/jwt-signing-keys-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(FIRST)
    )["ARN"]
    before = tokens.parse_key_ring(_current(secrets_client, arn))
    old_token = _issue(before)

    # When the secret is rotated
    version = _rotate(secrets_client, arn)

    # Then AWSCURRENT is the new version: a new kid signs, the old key still verifies
    stages = secrets_client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert "AWSCURRENT" in stages[version]
    after = tokens.parse_key_ring(_current(secrets_client, arn))
    assert after.current.kid != "k1" and [k.kid for k in after.keys][1:] == ["k1"]
    assert tokens.verify_access_token(after, old_token, issuer=ISSUER, audience=AUDIENCE).sub == USER_ID
    new_token = _issue(after)
    with pytest.raises(tokens.UnknownKidError):
        tokens.verify_access_token(before, new_token, issuer=ISSUER, audience=AUDIENCE)


def test_two_rotations_keep_two_keys_and_retire_the_oldest(secrets_client: Any) -> None:
    arn = secrets_client.create_secret(
        Name=f"claw-ai/test/jwt-keys-2-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(FIRST)
    )["ARN"]
    _rotate(secrets_client, arn)
    middle = tokens.parse_key_ring(_current(secrets_client, arn))
    _rotate(secrets_client, arn)
    latest = tokens.parse_key_ring(_current(secrets_client, arn))
    assert len(latest.keys) == 2
    assert latest.keys[1].kid == middle.current.kid and latest.get("k1") is None


def test_a_retried_create_step_keeps_the_ring_it_made(secrets_client: Any) -> None:
    from rotation_app.handler import lambda_handler

    arn = secrets_client.create_secret(
        Name=f"claw-ai/test/jwt-keys-3-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(FIRST)
    )["ARN"]
    token = _start_rotation(secrets_client, arn)
    event = {"SecretId": arn, "ClientRequestToken": token, "Step": "createSecret"}
    lambda_handler(event, _Context())
    first = secrets_client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"]
    lambda_handler(event, _Context())
    assert secrets_client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"] == first


def test_a_pending_ring_that_drops_the_signing_key_fails_the_test_step(secrets_client: Any) -> None:
    from rotation_app.handler import RotationError, lambda_handler

    arn = secrets_client.create_secret(
        Name=f"claw-ai/test/jwt-keys-4-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(FIRST)
    )["ARN"]
    token = _start_rotation(secrets_client, arn)
    stranger = json.dumps({"keys": [{"kid": "k9", "secret": "z" * 64}]})
    secrets_client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=stranger, VersionStages=["AWSPENDING"]
    )
    with pytest.raises(RotationError):
        lambda_handler({"SecretId": arn, "ClientRequestToken": token, "Step": "testSecret"}, _Context())


def test_a_warm_verifier_reloads_the_ring_once_for_a_new_kid() -> None:
    # Given a verifier that loaded the ring before a rotation
    rings = [tokens.parse_key_ring(FIRST)]
    clock = [1000.0]
    source = tokens.KeyRingSource(lambda: rings[-1], min_reload_interval_s=60, clock=lambda: clock[0])
    assert source.ring().current.kid == "k1"
    rotated = tokens.parse_key_ring({"keys": [{"kid": "k2", "secret": "t" * 64}, FIRST]})
    rings.append(rotated)
    token = _issue(rotated)
    # When a token signed with the new key arrives within a minute of the load, it is refused
    # (a forged kid must not turn every request into a Secrets Manager call)...
    with pytest.raises(tokens.UnknownKidError):
        source.verify(token, issuer=ISSUER, audience=AUDIENCE)
    # ...and after that the ring is reloaded once and the token verifies
    clock[0] += 61
    assert source.verify(token, issuer=ISSUER, audience=AUDIENCE).sub == USER_ID
    assert source.ring().current.kid == "k2"
