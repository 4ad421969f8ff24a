"""A rotated database secret is picked up without a deploy: the next connection re-reads it.

Local PostgreSQL trusts every password, so the rotation here moves the secret to a new role
and drops the old one: the cached credentials then fail to connect, as a changed password
would on RDS.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from claw_common.data.credentials import DatabaseCredentials, connect_with_rotation, rotating_connection_class


def _url_for(role: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}@{host}"))


@pytest.fixture()
def secret(platform: Any, db: Any, unique: str) -> Iterator[tuple[Any, str, list[str]]]:
    from claw_common.aws import aws_client

    roles = [f"rot_a_{unique}", f"rot_b_{unique}"]
    for role in roles:
        db.execute(f'CREATE ROLE "{role}" LOGIN')
    # The platform's emulated Secrets Manager (an in-process mock would also capture the
    # platform's own AWS calls, such as the SQS poller's).
    client = aws_client("secretsmanager")
    arn = client.create_secret(Name=f"claw/test/db-{unique}", SecretString=json.dumps({"url": _url_for(roles[0])}))
    yield client, arn["ARN"], roles
    for role in roles:
        db.execute(f'DROP ROLE IF EXISTS "{role}"')


def _rotate(db: Any, client: Any, arn: str, old: str, new: str) -> None:
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"url": _url_for(new)}))
    db.execute(f'DROP ROLE "{old}"')


def _whoami(conn: Any) -> str:
    return str(conn.execute("SELECT current_user").fetchone()[0])


def test_a_new_connection_after_a_rotation_uses_the_new_secret(db: Any, secret: tuple[Any, str, list[str]]) -> None:
    import psycopg

    client, arn, (old, new) = secret
    creds = DatabaseCredentials(None, arn, lambda: client, min_refresh_interval_s=0)
    with connect_with_rotation(creds, psycopg.connect, (psycopg.OperationalError,)) as conn:
        assert _whoami(conn) == old
    # When the secret rotates (the old login stops working)
    _rotate(db, client, arn, old, new)
    # Then the next connection re-reads the secret once and connects with the new one
    with connect_with_rotation(creds, psycopg.connect, (psycopg.OperationalError,)) as conn:
        assert _whoami(conn) == new


def test_the_pool_reconnects_with_the_rotated_secret(db: Any, secret: tuple[Any, str, list[str]]) -> None:
    from psycopg_pool import ConnectionPool

    client, arn, (old, new) = secret
    creds = DatabaseCredentials(None, arn, lambda: client, min_refresh_interval_s=0)
    assert creds.url() == _url_for(old)
    _rotate(db, client, arn, old, new)
    pool = ConnectionPool(
        creds.url, connection_class=rotating_connection_class(creds), min_size=1, max_size=1, open=True, timeout=10
    )
    try:
        with pool.connection() as conn:
            assert _whoami(conn) == new
    finally:
        pool.close()


def test_an_unchanged_secret_is_not_retried(db: Any, secret: tuple[Any, str, list[str]]) -> None:
    import psycopg

    client, arn, (old, _new) = secret
    creds = DatabaseCredentials(None, arn, lambda: client, min_refresh_interval_s=0)
    db.execute(f'DROP ROLE "{old}"')
    attempts: list[str] = []

    def connect(url: str) -> Any:
        attempts.append(url)
        return psycopg.connect(url)

    with pytest.raises(psycopg.OperationalError):
        connect_with_rotation(creds, connect, (psycopg.OperationalError,))
    assert attempts == [_url_for(old)]
