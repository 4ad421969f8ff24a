"""The database URL from a secret's value: every form a deployment may hold."""

from __future__ import annotations

import json

import pytest

from claw_common.data.credentials import CredentialsUnavailable, DatabaseCredentials, url_from_secret


def test_the_standard_rds_secret_becomes_a_tls_url_with_quoted_credentials() -> None:
    secret = {"engine": "postgres", "host": "db.internal", "port": 5433, "username": "claw", "password": "p@ss:/w#rd"}
    secret["dbname"] = "claw"
    url = url_from_secret(json.dumps(secret))
    assert url == "postgresql://claw:p%40ss%3A%2Fw%23rd@db.internal:5433/claw?sslmode=require"


def test_a_url_key_or_a_bare_url_is_used_as_it_is() -> None:
    assert url_from_secret('{"url": "postgresql://a:b@h:5432/d"}') == "postgresql://a:b@h:5432/d"
    assert url_from_secret(" postgresql://a:b@h/d \n") == "postgresql://a:b@h/d"


def test_a_proxy_host_replaces_the_secrets_host_and_keeps_the_credentials() -> None:
    fields = {"host": "db.internal", "username": "u", "password": "p", "dbname": "d"}
    assert url_from_secret(json.dumps(fields), "proxy.example").startswith("postgresql://u:p@proxy.example:5432/d")
    assert (
        url_from_secret('{"url": "postgresql://u:p@db:6432/d"}', "proxy.example")
        == "postgresql://u:p@proxy.example:6432/d"
    )


@pytest.mark.parametrize("raw", ["", "not json", "[1]", '{"host": "h"}', '{"username": "u", "password": "p"}'])
def test_an_unusable_secret_fails_loudly_without_echoing_it(raw: str) -> None:
    with pytest.raises(CredentialsUnavailable) as info:
        url_from_secret(raw)
    assert "p@" not in str(info.value)


def test_neither_a_url_nor_a_secret_is_refused_at_start() -> None:
    with pytest.raises(CredentialsUnavailable):
        DatabaseCredentials(None, None)


def test_settings_need_a_database_url_or_a_secret_arn(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from claw_common.settings import Settings

    # Only what is passed here counts (the local platform of other tests sets DATABASE_URL).
    for name in ("DATABASE_URL", "DATABASE_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ValidationError):
        Settings(REDIS_URL="redis://127.0.0.1:6379/0", DATABASE_URL="")  # type: ignore[call-arg]
    on_aws = Settings(REDIS_URL="redis://127.0.0.1:6379/0", DATABASE_SECRET_ARN="arn:aws:secretsmanager:x")  # type: ignore[call-arg]
    assert on_aws.database_url is None and on_aws.database_secret_arn == "arn:aws:secretsmanager:x"


def test_a_secret_is_re_read_at_most_once_per_interval() -> None:
    reads: list[str] = []
    values = iter(
        ['{"url": "postgresql://u1@h/d"}', '{"url": "postgresql://u2@h/d"}', '{"url": "postgresql://u3@h/d"}']
    )

    class Client:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            reads.append(SecretId)
            return {"SecretString": next(values)}

    now = [0.0]
    creds = DatabaseCredentials(None, "arn:db", Client, min_refresh_interval_s=30, clock=lambda: now[0])
    assert creds.url() == "postgresql://u1@h/d" and creds.url() == "postgresql://u1@h/d"
    assert creds.refresh() is None  # just read: a failing database is not a rotated secret
    now[0] = 31
    assert creds.refresh() == "postgresql://u2@h/d"
    assert creds.url() == "postgresql://u2@h/d" and len(reads) == 2
