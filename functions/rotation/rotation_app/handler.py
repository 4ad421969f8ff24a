"""Secrets Manager rotation of the JWT signing keys (the ``kid`` key ring).

The four steps Secrets Manager calls, for ``claw-ai/<stage>/jwt-signing-keys``:

* ``createSecret`` stores AWSPENDING: a new key first (it signs from ``finishSecret`` on) and
  the current signing key after it, so tokens issued before the rotation still verify;
* ``setSecret`` has nothing to do (the keys are ours alone, no other system holds them);
* ``testSecret`` parses the pending ring and checks it keeps today's signing key;
* ``finishSecret`` moves AWSCURRENT to the new version.

Functions read the ring at cold start; the authorizer reloads it when a token names a kid it
does not know yet (``claw_common.auth.tokens.KeyRingSource``), so no deploy is needed.
Nothing secret is logged: only kids and version ids.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from rotation_app import keyring

# Its own logger, like the authorizer: claw_common.observability reads settings this
# function does not have (no database, no Redis).
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "jwt-rotation", utc=True)


class RotationError(Exception):
    """The rotation cannot proceed; Secrets Manager records the failure and retries."""


@lru_cache(maxsize=1)
def secretsmanager() -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def _stages_of(client: Any, arn: str, token: str) -> list[str] | None:
    """The staging labels of the version being rotated (None: not created yet)."""
    versions = client.describe_secret(SecretId=arn).get("VersionIdsToStages") or {}
    return list(versions[token]) if token in versions else None


def create_secret(client: Any, arn: str, token: str) -> None:
    current = keyring.parse(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    try:
        existing = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    except client.exceptions.ResourceNotFoundException:
        existing = None
    if existing is not None:
        # A retried step: keep the ring this rotation already made.
        try:
            keyring.check_pending(current, keyring.parse(existing.get("SecretString") or ""))
            logger.info("pending ring already stored", extra={"version": token})
            return
        except ValueError:
            pass
    pending = keyring.next_ring(current, keyring.new_kid(token))
    client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=keyring.ring_json(pending), VersionStages=["AWSPENDING"]
    )
    logger.info("pending ring stored", extra={"version": token, "kids": [k.kid for k in pending.keys]})


def test_secret(client: Any, arn: str, token: str) -> None:
    current = keyring.parse(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    pending = keyring.parse(
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    )
    try:
        keyring.check_pending(current, pending)
    except ValueError as exc:
        raise RotationError(str(exc)) from exc


def finish_secret(client: Any, arn: str, token: str) -> None:
    versions = client.describe_secret(SecretId=arn).get("VersionIdsToStages") or {}
    current = next((v for v, stages in versions.items() if "AWSCURRENT" in stages), None)
    if current == token:
        return
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
    logger.info("rotation finished", extra={"version": token, "previous": current})


STEPS = {
    "createSecret": create_secret,
    "setSecret": lambda client, arn, token: None,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise RotationError(f"unknown step {step!r}")
    client = secretsmanager()
    # Only Secrets Manager may invoke this function (its resource policy), for the secret whose
    # rotation names it. Secrets Manager labels the version AWSPENDING before createSecret;
    # an emulator may not, and createSecret then creates it.
    stages = _stages_of(client, arn, token)
    if stages is None and step != "createSecret":
        raise RotationError("the request token is not a version of the secret")
    if stages is not None and "AWSCURRENT" in stages:
        logger.info("version is already current", extra={"version": token, "step": step})
        return
    if stages is not None and "AWSPENDING" not in stages:
        raise RotationError("the version is not pending rotation")
    STEPS[step](client, arn, token)
