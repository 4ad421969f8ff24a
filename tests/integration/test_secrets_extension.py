"""Secrets through the Parameters and Secrets extension's local HTTP API (the emulator behind it)."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import pytest

from claw_common.secrets_extension import ExtensionSecrets, SecretsExtensionError
from tests.support.secrets_extension import secrets_extension


@pytest.fixture
def secretsmanager(platform: Any) -> Any:
    from claw_common.aws import aws_client

    return aws_client("secretsmanager")


def test_a_secret_comes_back_as_get_secret_value_returns_it(secretsmanager: Any) -> None:
    name = f"claw-test-{uuid.uuid4().hex[:8]}"
    arn = secretsmanager.create_secret(Name=name, SecretString=json.dumps({"k": "v"}))["ARN"]
    with secrets_extension(secretsmanager, "session-token") as (port, asked):
        value = ExtensionSecrets(port, "session-token").get_secret_value(SecretId=arn)
    assert json.loads(value["SecretString"]) == {"k": "v"} and value["ARN"] == arn
    assert asked == [arn]  # the ARN travels intact (it has ':' and '/')


def test_a_wrong_token_an_unknown_secret_or_no_extension_is_an_error_without_the_value(secretsmanager: Any) -> None:
    arn = secretsmanager.create_secret(Name=f"claw-test-{uuid.uuid4().hex[:8]}", SecretString="hidden-value")["ARN"]
    with secrets_extension(secretsmanager, "session-token") as (port, _):
        with pytest.raises(SecretsExtensionError, match="401") as wrong:
            ExtensionSecrets(port, "another-token").get_secret_value(SecretId=arn)
        with pytest.raises(SecretsExtensionError, match="400"):
            ExtensionSecrets(port, "session-token").get_secret_value(SecretId=arn + "-missing")
    assert "hidden-value" not in str(wrong.value)
    closed = socket.create_server(("127.0.0.1", 0))
    free_port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(SecretsExtensionError, match="unreachable"):
        ExtensionSecrets(free_port, "session-token", host="127.0.0.1").get_secret_value(SecretId=arn)


def test_it_is_used_only_where_the_template_set_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", raising=False)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token")
    assert ExtensionSecrets.from_env() is None
    monkeypatch.setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
    extension = ExtensionSecrets.from_env()
    assert extension is not None and (extension.port, extension.session_token) == (2773, "token")
