"""Secrets Manager through the AWS Parameters and Secrets Lambda Extension, with the standard library.

Where the deployment attaches the extension's layer (template parameter
``SecretsExtensionLayerArn``, docs/deploy.md), the authorizer reads its secrets (the JWT
signing keys at the first token, the database secret at the first cache miss) from the
extension's local endpoint instead of creating a boto3 client: importing boto3 and building a
Secrets Manager client cost ~330 ms of a cold start on the benchmark machine, four times the
authorizer's whole budget; this costs an HTTP request on localhost.

The template turns the extension's own cache off (``SECRETS_MANAGER_TTL=0``): the key ring
reloads after a rotation (``tokens.KeyRingSource``) and must then see the new key at once,
not a copy up to five minutes old. The result has the shape of boto3's ``get_secret_value``
(``SecretString``, ``ARN``, ``VersionId``...), so callers take either.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
TIMEOUT_S = 3.0


class SecretsExtensionError(RuntimeError):
    """The extension did not return the secret (the message has its status, never a value)."""


class ExtensionSecrets:
    """``get_secret_value`` against ``http://localhost:{port}/secretsmanager/get``."""

    def __init__(self, port: int, session_token: str, *, host: str = "localhost", timeout_s: float = TIMEOUT_S) -> None:
        self.host = host
        self.port = port
        self.session_token = session_token
        self.timeout_s = timeout_s

    @classmethod
    def from_env(cls) -> ExtensionSecrets | None:
        """The extension where the template configured it (its port set), else None."""
        port = os.environ.get(PORT_VARIABLE, "").strip()
        token = os.environ.get("AWS_SESSION_TOKEN", "")
        if not port or not token:
            return None
        return cls(int(port), token)

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        import http.client

        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        try:
            conn.request(
                "GET",
                f"/secretsmanager/get?secretId={quote(SecretId, safe='')}",
                headers={"X-Aws-Parameters-Secrets-Token": self.session_token},
            )
            response = conn.getresponse()
            body = response.read()
        except OSError as exc:
            raise SecretsExtensionError(f"secrets extension unreachable: {type(exc).__name__}") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise SecretsExtensionError(f"secrets extension answered {response.status}")
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise SecretsExtensionError("secrets extension answered something other than JSON") from exc
        if not isinstance(value, dict) or not isinstance(value.get("SecretString"), str):
            raise SecretsExtensionError("secrets extension answered without a SecretString")
        return value


__all__ = ["PORT_VARIABLE", "ExtensionSecrets", "SecretsExtensionError"]
