"""Database credentials by reference: the URL locally, a Secrets Manager secret on AWS.

On AWS no function's configuration holds the database password: the template passes
``DATABASE_SECRET_ARN`` and the URL is built from the secret at the first connection of a
cold start, then kept in memory. The secret is either

* JSON ``{"url": "postgresql://..."}`` (what a hand-made secret holds),
* the standard RDS secret ``{"engine", "host", "port", "username", "password", "dbname"}``
  (what RDS-managed and rotated secrets hold), or
* a bare ``postgresql://`` URL.

``DATABASE_HOST`` (not secret) replaces the secret's host, so an RDS Proxy endpoint can sit in
front of the same credentials.

Rotation without a deploy: existing connections keep working when a password changes, so a
new connection is the only thing that can fail. When one fails, ``connect_with_rotation``
re-reads the secret (at most once per ``min_refresh_interval_s``) and tries once more, only
if the value changed. psycopg reports no SQLSTATE for a failed connection attempt, so "the
secret changed" is the signal, not the text of the error.

This module imports neither pydantic nor the settings module: the authorizer uses it too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import quote

T = TypeVar("T")


class CredentialsUnavailable(Exception):
    """The database secret could not be read or holds no usable connection details."""


def url_from_secret(secret_string: str, host_override: str | None = None) -> str:
    """The PostgreSQL URL a secret's value describes (see the module docstring for the forms)."""
    raw = (secret_string or "").strip()
    if raw.startswith(("postgresql://", "postgres://")):
        url = raw
    else:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CredentialsUnavailable("the database secret is neither JSON nor a postgresql:// URL") from exc
        if not isinstance(data, dict):
            raise CredentialsUnavailable("the database secret must be a JSON object")
        if isinstance(data.get("url"), str) and data["url"]:
            url = data["url"]
        else:
            missing = [k for k in ("host", "username", "password") if not data.get(k)]
            if missing:
                raise CredentialsUnavailable(f"the database secret lacks {', '.join(missing)}")
            user = quote(str(data["username"]), safe="")
            password = quote(str(data["password"]), safe="")
            dbname = quote(str(data.get("dbname") or "postgres"), safe="")
            port = int(data.get("port") or 5432)
            # RDS and RDS Proxy accept TLS; a secret may ask for stricter verification.
            sslmode = str(data.get("sslmode") or "require")
            return f"postgresql://{user}:{password}@{host_override or data['host']}:{port}/{dbname}?sslmode={sslmode}"
    if host_override:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        port_suffix = f":{parts.port}" if parts.port else ""
        url = urlunsplit(parts._replace(netloc=f"{userinfo}{host_override}{port_suffix}"))
    return url


class DatabaseCredentials:
    """Where this process's database URL comes from; the secret is read lazily and cached.

    ``secretsmanager`` creates the boto3 client only when the secret must be read.
    """

    def __init__(
        self,
        url: str | None,
        secret_arn: str | None,
        secretsmanager: Callable[[], Any] | None = None,
        *,
        host_override: str | None = None,
        min_refresh_interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not url and not secret_arn:
            raise CredentialsUnavailable("set DATABASE_URL (local) or DATABASE_SECRET_ARN (AWS)")
        self._static_url = url or None
        self._secret_arn = secret_arn or None
        self._secretsmanager = secretsmanager
        self._host_override = host_override or None
        self._min_refresh_interval_s = min_refresh_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._url: str | None = None
        self._read_at: float | None = None

    @property
    def from_secret(self) -> bool:
        """True when the URL comes from Secrets Manager (and may change by rotation)."""
        return self._static_url is None

    def _read(self) -> str:
        if self._secretsmanager is None or self._secret_arn is None:
            raise CredentialsUnavailable("no Secrets Manager client for DATABASE_SECRET_ARN")
        try:
            value = self._secretsmanager().get_secret_value(SecretId=self._secret_arn)
        except Exception as exc:
            raise CredentialsUnavailable(f"the database secret could not be read ({type(exc).__name__})") from exc
        self._read_at = self._clock()
        return url_from_secret(value.get("SecretString") or "", self._host_override)

    def url(self) -> str:
        """The current URL (read from the secret on first use, then from memory)."""
        if self._static_url is not None:
            return self._static_url
        with self._lock:
            if self._url is None:
                self._url = self._read()
            return self._url

    def refresh(self) -> str | None:
        """Re-read the secret after a failed connection; the new URL if it changed, else None.

        A static URL never changes; a secret is re-read at most once per
        ``min_refresh_interval_s``, so a database that is simply down does not turn every
        request into a Secrets Manager call.
        """
        if self._static_url is not None:
            return None
        with self._lock:
            if self._read_at is not None and self._clock() - self._read_at < self._min_refresh_interval_s:
                return None
            try:
                fresh = self._read()
            except CredentialsUnavailable:
                return None
            if fresh == self._url:
                return None
            self._url = fresh
            return fresh


def connect_with_rotation(
    credentials: DatabaseCredentials,
    connect: Callable[[str], T],
    retry_on: tuple[type[BaseException], ...],
    conninfo: str | None = None,
) -> T:
    """``connect(url)``; after a ``retry_on`` failure, once more if the secret has changed."""
    url = conninfo or credentials.url()
    try:
        return connect(url)
    except retry_on:
        fresh = credentials.refresh()
        if fresh is None or fresh == url:
            raise
        return connect(fresh)


@lru_cache(maxsize=1)
def database_credentials() -> DatabaseCredentials:
    """This process's database credentials, from settings (built once per cold start).

    ``claw_common.data.db.close_pool`` clears it along with the pool.
    """
    from claw_common.aws import aws_client
    from claw_common.settings import get_settings

    settings = get_settings()
    return DatabaseCredentials(
        settings.database_url.get_secret_value() if settings.database_url else None,
        settings.database_secret_arn,
        lambda: aws_client("secretsmanager"),
        host_override=settings.database_host,
    )


def rotating_connection_class(credentials: DatabaseCredentials, base: Any = None) -> Any:
    """A ``psycopg.Connection`` class (a subclass of ``base``) for a pool: a failed connect re-reads
    a rotated secret once."""
    import psycopg

    class RotatingConnection(base or psycopg.Connection[Any]):  # type: ignore[misc]
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:  # type: ignore[override]
            parent: Any = super()
            return connect_with_rotation(
                credentials,
                lambda url: parent.connect(url, **kwargs),
                (psycopg.OperationalError,),
                conninfo=conninfo,
            )

    return RotatingConnection
