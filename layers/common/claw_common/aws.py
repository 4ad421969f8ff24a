"""AWS client factories that honour ``AWS_ENDPOINT_URL`` (moto, LocalStack) through settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from claw_common.settings import get_settings


@lru_cache(maxsize=16)
def aws_client(service: str) -> Any:
    """A boto3 client created once per process (boto3 is imported here, on first use)."""
    import boto3
    from botocore.config import Config

    from claw_common.observability import trace_calls_of

    trace_calls_of("botocore")
    settings = get_settings()
    config_kwargs: dict[str, Any] = {
        "retries": {"max_attempts": 3, "mode": "standard"},
        "connect_timeout": 3,
        "read_timeout": 10,
    }
    if settings.aws_endpoint_url and service == "s3":
        # Emulators serve buckets by path, not by virtual host.
        config_kwargs["s3"] = {"addressing_style": "path"}
    if service == "s3":
        config_kwargs["signature_version"] = "s3v4"
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(**config_kwargs),
    )
