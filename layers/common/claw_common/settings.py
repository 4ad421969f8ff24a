"""Settings, validated once at cold start.

Logic and adapters take a ``Settings`` (or values from it); only this module reads the
environment. A missing required setting fails loudly at start.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Settings(BaseModel):
    """Runtime settings of every CLAW.AI function, from environment variables.

    Each field is read from the variable its alias names (case-insensitively); keyword arguments
    (by alias) override the environment. A plain pydantic model rather than pydantic-settings'
    ``BaseSettings``: with flat, string-typed variables it does the same, and importing
    pydantic-settings (its CLI, dotenv and secrets sources) cost every cold start ~15 ms.
    """

    model_config = ConfigDict(extra="ignore", validate_default=True)

    def __init__(self, **values: Any) -> None:
        env = {name.upper(): value for name, value in os.environ.items()}
        from_env = {
            field.alias: env[field.alias.upper()]
            for field in type(self).model_fields.values()
            if field.alias and field.alias.upper() in env
        }
        super().__init__(**{**from_env, **values})

    stage: Literal["local", "test", "dev", "prod"] = Field("local", alias="CLAW_STAGE", description="Deployment stage.")
    aws_region: str = Field("us-east-1", alias="AWS_REGION", description="AWS region of every client.")
    aws_endpoint_url: str | None = Field(
        None, alias="AWS_ENDPOINT_URL", description="Endpoint of an AWS emulator (moto, LocalStack); unset on AWS."
    )

    database_url: SecretStr | None = Field(
        None,
        alias="DATABASE_URL",
        description="PostgreSQL connection URL (with pgvector): local runs and tests. On AWS it is never set; "
        "the functions get DATABASE_SECRET_ARN instead.",
    )
    database_secret_arn: str | None = Field(
        None,
        alias="DATABASE_SECRET_ARN",
        description='Secrets Manager secret with the database credentials ({"url": ...} or the RDS fields host, '
        "port, username, password, dbname), read at the first connection and again when a connection fails "
        "after a rotation (claw_common.data.credentials).",
    )
    database_host: str | None = Field(
        None, alias="DATABASE_HOST", description="Host replacing the secret's (an RDS Proxy endpoint); not secret."
    )
    db_pool_max: int = Field(
        1, alias="DB_POOL_MAX", ge=1, le=64, description="Connections per process: 1 in Lambda, more locally."
    )
    db_statement_timeout_ms: int = Field(
        3000,
        alias="DB_STATEMENT_TIMEOUT_MS",
        ge=100,
        description="Statement deadline of API requests (server-side; the client adds a second, docs/reliability.md).",
    )

    redis_url: SecretStr = Field(alias="REDIS_URL", description="Redis/Valkey URL for rate limits and caches.")
    redis_timeout_s: float = Field(
        0.3, alias="REDIS_TIMEOUT_S", gt=0, le=10, description="Connect and command deadline of every Redis call."
    )

    documents_bucket: str | None = Field(None, alias="DOCUMENTS_BUCKET", description="Bucket holding documents.")
    ingest_queue_url: str | None = Field(None, alias="INGEST_QUEUE_URL")
    ingest_dlq_url: str | None = Field(None, alias="INGEST_DLQ_URL")
    ocr_queue_url: str | None = Field(
        None, alias="OCR_QUEUE_URL", description="Queue of the OCR function (scanned pages and images)."
    )
    ocr_pages_per_message: int = Field(
        10, alias="OCR_PAGES_PER_MESSAGE", ge=1, le=100, description="Pages ingest sends to OCR per queue message."
    )
    ocr_engine: Literal["faster-paddle-tiny", "faster-paddle-small", "zhipu-vision"] = Field(
        "faster-paddle-tiny",
        alias="OCR_ENGINE",
        description="Engine of the OCR function; the config key ingest.ocr overrides it.",
    )
    ocr_time_margin_s: float = Field(
        30.0,
        alias="OCR_TIME_MARGIN_S",
        ge=0,
        le=600,
        description="The OCR function stops reading pages when less than this is left of its time, "
        "and queues the rest.",
    )
    vector_index_quiet_s: int = Field(
        30,
        alias="VECTOR_INDEX_QUIET_S",
        ge=0,
        le=900,
        description="A large knowledge base's vector index is built once no document was ingested into it for "
        "this long (0: at once); docs/vector-store.md.",
    )
    ingest_time_reserve_ms: int = Field(
        30000,
        alias="INGEST_TIME_RESERVE_MS",
        ge=0,
        description="Ingest starts no record with less than this left (capped at a quarter of the invocation); "
        "the rest return to the queue as batch item failures.",
    )

    config_kms_key_id: str | None = Field(
        None, alias="CONFIG_KMS_KEY_ID", description="KMS key (id, ARN or alias) sealing sensitive config values."
    )
    config_cache_ttl_s: float = Field(
        5.0, alias="CONFIG_CACHE_TTL_S", ge=0, le=300, description="In-process TTL of config values read by functions."
    )

    jwt_issuer: str = Field("https://claw.ai", alias="JWT_ISSUER")
    jwt_audience: str = Field("claw-api", alias="JWT_AUDIENCE")
    jwt_signing_keys: SecretStr | None = Field(
        None,
        alias="JWT_SIGNING_KEYS",
        description='Local signing keys (JSON): {"kid": "k1", "secret": "..."} or {"keys": [{"kid", "secret"}, ...]}; '
        "the first signs, all verify. Parsed by claw_common.auth.tokens.parse_key_ring.",
    )
    jwt_secret_arn: str | None = Field(None, alias="JWT_SECRET_ARN", description="Secrets Manager secret with keys.")
    access_token_ttl_s: int = Field(900, alias="ACCESS_TOKEN_TTL_S", ge=60, le=86400)
    refresh_token_ttl_s: int = Field(30 * 86400, alias="REFRESH_TOKEN_TTL_S", ge=3600)
    login_max_failures_per_account: int = Field(
        5, alias="LOGIN_MAX_FAILURES_PER_ACCOUNT", ge=1, description="Failed logins per account before a lockout."
    )
    login_max_failures_per_ip: int = Field(
        50, alias="LOGIN_MAX_FAILURES_PER_IP", ge=1, description="Failed logins per client IP before a lockout."
    )
    login_lockout_window_s: int = Field(
        900, alias="LOGIN_LOCKOUT_WINDOW_S", ge=10, description="Window of the failure counters and lockout length."
    )

    zhipuai_api_key: SecretStr | None = Field(None, alias="ZHIPUAI_API_KEY")
    zhipuai_base_url: str | None = Field(None, alias="ZHIPUAI_BASE_URL")
    zhipuai_secret_arn: str | None = Field(
        None,
        alias="ZHIPUAI_SECRET_ARN",
        description='Secrets Manager secret with the Zhipu key (JSON {"api_key": ...} or the bare key); '
        "read once per cold start when ZHIPUAI_API_KEY is unset.",
    )
    websocket_management_url: str | None = Field(
        None,
        alias="WEBSOCKET_MANAGEMENT_URL",
        description="Override of the WebSocket management endpoint (locally the gateway); on AWS it is derived "
        "from the event: https://{domainName}/{stage}.",
    )
    console_url: str | None = Field(
        None,
        alias="CLAW_CONSOLE_URL",
        description="Origin serving the console and widget.js (embed snippets); unset = the API's own origin.",
    )
    visitor_session_ttl_s: int = Field(
        1800, alias="VISITOR_SESSION_TTL_S", ge=60, le=86400, description="Lifetime of an assistant visitor's token."
    )
    default_chat_model: str = Field("glm-4-flash", alias="DEFAULT_CHAT_MODEL")
    embedding_dim: int = Field(
        0, alias="EMBEDDING_DIM", ge=0, le=2000, description="0 = the provider's own (512 offline, 1024 Zhipu)."
    )
    offline_embeddings: Literal["auto", "always", "never"] = Field(
        "auto",
        alias="OFFLINE_EMBEDDINGS",
        description="auto: embed offline without a Zhipu key, with embedding-3 with one; always: offline even "
        "with a key (the key serves the chat model only); never: Zhipu only (template parameter OfflineEmbeddings).",
    )
    embed_function_name: str | None = Field(
        None,
        alias="EMBED_FUNCTION_NAME",
        description="The embed function, which runs the offline model for the functions that do not carry it "
        "(chat, chat-stream, knowledge, assistants); set by the template where the deployment embeds offline.",
    )

    @field_validator(
        "aws_endpoint_url",
        "zhipuai_base_url",
        "zhipuai_secret_arn",
        "database_url",
        "database_secret_arn",
        "database_host",
        "jwt_secret_arn",
        "console_url",
        "embed_function_name",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("offline_embeddings", mode="before")
    @classmethod
    def _lower_case(cls, v: object) -> object:
        return v.lower() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _database_is_configured(self) -> Settings:
        if self.database_url is None and not self.database_secret_arn:
            raise ValueError("set DATABASE_URL (local) or DATABASE_SECRET_ARN (AWS)")
        return self

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (read once; tests call ``get_settings.cache_clear()``)."""
    return Settings()  # type: ignore[call-arg]
