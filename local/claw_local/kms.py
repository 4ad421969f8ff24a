"""The config KMS key in the local AWS emulator, as ``ConfigKey`` + ``ConfigKeyAlias`` in the template."""

from __future__ import annotations

from typing import Any

CONFIG_KEY_ALIAS = "alias/claw-ai-local-config"


def ensure_config_key(kms: Any, alias: str = CONFIG_KEY_ALIAS) -> str:
    """The id of the KMS key behind ``alias``, creating key and alias when missing (idempotent)."""
    from botocore.exceptions import ClientError

    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NotFoundException":
            raise
    key_id = str(
        kms.create_key(
            Description="CLAW.AI local: envelope encryption of sensitive config values",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
        )["KeyMetadata"]["KeyId"]
    )
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id
