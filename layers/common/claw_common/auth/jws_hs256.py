"""Verifying an HS256 compact JWS with joserfc's parsing, without its key and algorithm tables.

``joserfc.jwt.decode`` goes through ``joserfc.jws``/``joserfc.jwe``, whose registries load
every algorithm joserfc knows (RSA, EC, OKP, JWE key wrapping) and ``OctKey``, whose module
imports ``cryptography.x509``: about 60 ms of imports at the authorizer's cold start for an
HMAC that the standard library computes. This module runs the same steps as
``jwt.decode(token, OctKey.import_key(secret), algorithms=["HS256"], registry=JWSRegistry(
algorithms=["HS256"]))`` for our one algorithm, with joserfc's own pieces wherever they do not
pull that machinery in:

* the compact value, header and signature size limits of ``JWSRegistry`` (the same numbers);
* ``joserfc._rfc7515.compact.decode_header`` (a JSON object with ``alg``), RFC 7797's unencoded
  payload (``b64``) as joserfc reads it, the header registry
  checks of ``JWSRegistry.check_header`` (``crit``, registered parameter types, no parameter
  outside the registry) and ``joserfc.util.urlsafe_b64decode`` (strict base64url);
* the signature: HMAC-SHA256 of ``header.payload`` compared in constant time, exactly what
  joserfc's ``HMACAlgorithm.verify`` does (``hmac.new`` + ``hmac.compare_digest``);
* the payload: JSON, an object, else ``InvalidPayloadError``;
* claims: ``JWTClaimsRegistry`` (``joserfc.jwt`` re-exports it from ``joserfc._rfc7519.claims``).

It raises joserfc's own errors, so callers see what they saw with ``jwt.decode``.
tests/unit/test_jws_hs256.py checks it against ``jwt.decode`` token by token (forged headers,
``alg`` confusion, tampering, sizes, bad base64), and that the private joserfc paths it uses
are still the ones the public API re-exports (joserfc is pinned in layers/common/requirements.txt).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
from typing import Any

from joserfc._rfc7515.compact import decode_header
from joserfc._rfc7519.claims import JWTClaimsRegistry
from joserfc._rfc7797.util import is_rfc7797_enabled
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExceededSizeError,
    InvalidPayloadError,
    UnsupportedAlgorithmError,
)
from joserfc.registry import JWS_HEADER_REGISTRY, check_crit_header, check_registry_header, check_supported_header
from joserfc.util import urlsafe_b64decode

ALG = "HS256"
# joserfc.jws.JWSRegistry's limits (bytes).
MAX_HEADER_LENGTH = 512
MAX_PAYLOAD_LENGTH = 128000
MAX_SIGNATURE_LENGTH = 1024

__all__ = ["ALG", "JWTClaimsRegistry", "decode_hs256"]


def _check_sizes(value: bytes, header: bytes, payload: bytes, signature: bytes) -> None:
    if value and len(value) > MAX_HEADER_LENGTH + MAX_PAYLOAD_LENGTH + MAX_SIGNATURE_LENGTH:
        raise ExceededSizeError("Value size exceeds the limit.")
    if header and len(header) > MAX_HEADER_LENGTH:
        raise ExceededSizeError(f"Header size exceeds {MAX_HEADER_LENGTH} bytes.")
    if len(signature) > MAX_SIGNATURE_LENGTH:
        raise ExceededSizeError(f"Signature of exceeds {MAX_SIGNATURE_LENGTH} bytes.")
    if payload and len(payload) > MAX_PAYLOAD_LENGTH:
        raise ExceededSizeError(f"Payload size exceeds {MAX_PAYLOAD_LENGTH} bytes.")


def decode_hs256(token: str | bytes, secret: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(header, claims)`` of a compact JWS signed with HMAC-SHA256 under ``secret``.

    Raises joserfc's ``JoseError`` subclasses (``DecodeError``, ``BadSignatureError``,
    ``UnsupportedAlgorithmError``, ``InvalidPayloadError``...) or ``ValueError``, as
    ``joserfc.jwt.decode`` does. The claims are not validated here: use ``JWTClaimsRegistry``.
    """
    if not secret:
        raise ValueError("HMAC key must not be empty")
    value = token.encode("utf-8") if isinstance(token, str) else token
    parts = value.split(b".")
    if len(parts) != 3:
        raise DecodeError("Invalid JSON Web Signature")
    header_segment, payload_segment, signature_segment = parts
    _check_sizes(value, header_segment, payload_segment, signature_segment)
    header: dict[str, Any] = decode_header(header_segment)
    if is_rfc7797_enabled(header):  # "b64": false, listed in "crit": the payload is not encoded
        payload = payload_segment
    else:
        try:
            payload = urlsafe_b64decode(payload_segment)
        except (TypeError, ValueError) as error:
            raise DecodeError("Invalid payload") from error

    check_crit_header(JWS_HEADER_REGISTRY, header)
    check_registry_header(JWS_HEADER_REGISTRY, header)
    check_supported_header(JWS_HEADER_REGISTRY, header)
    if header["alg"] != ALG:
        raise UnsupportedAlgorithmError(f"Algorithm of '{header['alg']}' is not allowed")

    try:
        signature = urlsafe_b64decode(signature_segment)
    except (TypeError, ValueError, binascii.Error) as error:
        raise BadSignatureError() from error
    expected = hmac.new(secret, header_segment + b"." + payload_segment, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise BadSignatureError()

    try:
        claims = json.loads(payload)
    except (TypeError, ValueError) as error:
        raise InvalidPayloadError() from error
    if not isinstance(claims, dict):
        raise InvalidPayloadError()
    return header, claims
