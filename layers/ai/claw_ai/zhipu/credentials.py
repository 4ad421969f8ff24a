"""The Zhipu API key: from ``ZHIPUAI_API_KEY`` locally, from Secrets Manager on AWS.

On AWS the template passes ``ZHIPUAI_SECRET_ARN`` (never the key itself, which would be
visible in the function's configuration). The secret is read once per process (a cold
start) and cached; its value is either JSON ``{"api_key": "id.secret"}`` or the bare key.
An unset ARN (and no env key) means the offline provider.
"""

from __future__ import annotations

import json
from functools import lru_cache

from claw_common.errors import DependencyUnavailable
from claw_common.observability import logger
from claw_common.settings import Settings


@lru_cache(maxsize=4)
def _key_from_secret(secret_arn: str) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from claw_common.aws import aws_client

    try:
        raw = aws_client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString") or ""
    except (ClientError, BotoCoreError) as exc:
        # Not cached (lru_cache does not keep exceptions): the next request tries again.
        logger.warning("zhipu secret unreadable", extra={"error": type(exc).__name__})
        raise DependencyUnavailable("The AI provider's credentials could not be loaded.") from exc
    raw = raw.strip()
    if raw.startswith("{"):
        try:
            value = json.loads(raw).get("api_key")
        except (ValueError, AttributeError):
            value = None
        return str(value).strip() or None if isinstance(value, str) else None
    return raw or None


def zhipu_api_key(settings: Settings) -> str | None:
    """The Zhipu API key to use, or None for the offline provider.

    ``ZHIPUAI_API_KEY`` wins (local runs, tests); else the secret named by
    ``ZHIPUAI_SECRET_ARN``, read once and cached for the life of the process.
    """
    if settings.zhipuai_api_key is not None and settings.zhipuai_api_key.get_secret_value():
        return settings.zhipuai_api_key.get_secret_value()
    if settings.zhipuai_secret_arn:
        return _key_from_secret(settings.zhipuai_secret_arn)
    return None
