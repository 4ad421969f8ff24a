"""The authorizer's configuration takes the database by reference on AWS, like the other functions."""

from __future__ import annotations

import pytest

from authorizer_app.config import AuthorizerConfig

BASE = {"REDIS_URL": "redis://127.0.0.1:6379/0", "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:jwt"}


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in ("DATABASE_URL", "DATABASE_SECRET_ARN", "DATABASE_HOST", "JWT_SIGNING_KEYS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**BASE, **values}.items():
        monkeypatch.setenv(name, value)


def test_on_aws_the_authorizer_gets_the_secrets_arn_and_no_url(monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:claw-ai/prod/database-AbCdEf"
    _env(monkeypatch, DATABASE_SECRET_ARN=arn, DATABASE_HOST="proxy.example")
    config = AuthorizerConfig.from_env()
    assert config.database_url is None and config.database_secret_arn == arn
    assert config.database_host == "proxy.example"


def test_without_a_database_url_or_secret_the_authorizer_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)
    with pytest.raises(RuntimeError, match="DATABASE_SECRET_ARN"):
        AuthorizerConfig.from_env()
