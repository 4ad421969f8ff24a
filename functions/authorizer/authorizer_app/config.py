"""The authorizer's few settings, read once at cold start.

Why not ``claw_common.settings``: that module is a pydantic model, and importing pydantic
costs more cold-start time than this whole function is allowed
(it runs before every uncached request). House style allows the simpler thing where
pydantic does not fit: a frozen dataclass built from the environment once, failing loudly
when a required value is missing, with the same variable names as ``Settings``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"the authorizer needs {name}")
    return value


@dataclass(frozen=True)
class AuthorizerConfig:
    # Exactly one of the two is set: the URL locally, the secret's ARN on AWS (never the password).
    database_url: str | None
    database_secret_arn: str | None
    database_host: str | None
    redis_url: str
    jwt_issuer: str
    jwt_audience: str
    jwt_signing_keys: str | None
    jwt_secret_arn: str | None
    aws_region: str
    aws_endpoint_url: str | None
    redis_timeout_s: float
    db_statement_timeout_ms: int

    @classmethod
    def from_env(cls) -> AuthorizerConfig:
        """Build the configuration from environment variables (names as in ``Settings``)."""
        keys = os.environ.get("JWT_SIGNING_KEYS") or None
        arn = os.environ.get("JWT_SECRET_ARN") or None
        if not keys and not arn:
            raise RuntimeError("the authorizer needs JWT_SIGNING_KEYS or JWT_SECRET_ARN")
        database_url = os.environ.get("DATABASE_URL", "").strip() or None
        database_secret_arn = os.environ.get("DATABASE_SECRET_ARN", "").strip() or None
        if not database_url and not database_secret_arn:
            raise RuntimeError("the authorizer needs DATABASE_URL or DATABASE_SECRET_ARN")
        return cls(
            database_url=database_url,
            database_secret_arn=database_secret_arn,
            database_host=os.environ.get("DATABASE_HOST", "").strip() or None,
            redis_url=_required("REDIS_URL"),
            jwt_issuer=os.environ.get("JWT_ISSUER") or "https://claw.ai",
            jwt_audience=os.environ.get("JWT_AUDIENCE") or "claw-api",
            jwt_signing_keys=keys,
            jwt_secret_arn=arn,
            aws_region=os.environ.get("AWS_REGION") or "us-east-1",
            aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            redis_timeout_s=float(os.environ.get("REDIS_TIMEOUT_S") or 0.3),
            # The authorizer has 5 s in all; one slow query must not use them up.
            db_statement_timeout_ms=int(os.environ.get("AUTHORIZER_DB_TIMEOUT_MS") or 2000),
        )
