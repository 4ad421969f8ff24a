"""KMS envelope encryption for small secrets (sensitive config values).

``GenerateDataKey`` gives a fresh 256-bit data key per value, in plaintext and encrypted
under the KMS key; the value is sealed with AES-256-GCM locally and only the *encrypted*
data key is stored next to the ciphertext. Decrypting asks KMS to unwrap the data key.
The name the value is stored under is bound both as the KMS encryption context and as
AES-GCM associated data, so a ciphertext copied to another key does not decrypt.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from claw_common.errors import DependencyUnavailable

_NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    """A sealed value: ``nonce || ciphertext+tag`` and the KMS-encrypted data key."""

    ciphertext: bytes
    encrypted_key: bytes

    def to_json(self) -> dict[str, str]:
        """A JSON-safe form (for caches): both parts base64."""
        return {
            "ct": base64.b64encode(self.ciphertext).decode(),
            "dk": base64.b64encode(self.encrypted_key).decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sealed:
        """The inverse of :meth:`to_json`."""
        return cls(base64.b64decode(data["ct"]), base64.b64decode(data["dk"]))


def _kms() -> Any:
    from claw_common.aws import aws_client

    return aws_client("kms")


def _context(name: str) -> dict[str, str]:
    return {"claw:config_key": name}


def seal(plaintext: bytes, *, name: str, kms_key_id: str | None = None) -> Sealed:
    """Encrypt ``plaintext`` for the value called ``name`` under the config KMS key.

    Raises ``DependencyUnavailable`` when no KMS key is configured or KMS fails: a secret is
    never stored unencrypted as a fallback.
    """
    from botocore.exceptions import BotoCoreError, ClientError
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from claw_common.settings import get_settings

    key_id = kms_key_id or get_settings().config_kms_key_id
    if not key_id:
        raise DependencyUnavailable("No KMS key is configured for sensitive values (CONFIG_KMS_KEY_ID).")
    try:
        data_key = _kms().generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=_context(name))
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable("The key management service is unavailable; try again shortly.") from exc
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext, name.encode())
    return Sealed(ciphertext=nonce + sealed, encrypted_key=data_key["CiphertextBlob"])


def unseal(sealed: Sealed, *, name: str) -> bytes:
    """Decrypt a value sealed by :func:`seal` for ``name``.

    Raises ``DependencyUnavailable`` when KMS cannot unwrap the data key (unreachable, or the
    key is not usable by this function); a tampered ciphertext raises ``ValueError``.
    """
    from botocore.exceptions import BotoCoreError, ClientError
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        data_key = _kms().decrypt(CiphertextBlob=sealed.encrypted_key, EncryptionContext=_context(name))
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable("The key management service is unavailable; try again shortly.") from exc
    nonce, body = sealed.ciphertext[:_NONCE_BYTES], sealed.ciphertext[_NONCE_BYTES:]
    try:
        return AESGCM(data_key["Plaintext"]).decrypt(nonce, body, name.encode())
    except InvalidTag as exc:
        raise ValueError("sealed value does not authenticate") from exc
