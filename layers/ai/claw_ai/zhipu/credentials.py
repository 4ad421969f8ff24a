"""The Zhipu API key: from ``ZHIPUAI_API_KEY`` locally, from Secrets Manager on AWS.

On AWS the template passes ``ZHIPUAI_SECRET_ARN`` (never the key itself, which would be
visible in the function's configuration). The secret is read once per process (a cold
start) and cached; its value is either JSON ``{"api_key": "id.secret"}`` or the bare key. When
Zhipu rejects the key (a rotation), the providers report it and the next call reads it again.
An unset ARN (and no env key) means the offline provider.
"""

from __future__ import annotations

import json
import threading
import time

from claw_common.errors import DependencyUnavailable
from claw_common.observability import logger
from claw_common.settings import Settings


def _read_key(secret_arn: str) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from claw_common.aws import aws_client

    try:
        raw = aws_client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString") or ""
    except (ClientError, BotoCoreError) as exc:
        # Not cached: the next request tries again.
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


class _SecretKeys:
    """Keys read from secrets, by ARN: once per cold start, again after Zhipu rejects one.

    A rotated key makes Zhipu answer 401; the provider then calls ``rejected(key)`` and the
    next call reads the secret again. At most once per ``min_reread_s`` per secret, so a key
    that is simply wrong does not turn every request into a Secrets Manager call.
    """

    def __init__(self, min_reread_s: float = 60.0) -> None:
        self._min_reread_s = min_reread_s
        self._keys: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, secret_arn: str) -> str | None:
        with self._lock:
            if secret_arn not in self._keys:
                self._keys[secret_arn] = (_read_key(secret_arn), time.monotonic())
            return self._keys[secret_arn][0]

    def rejected(self, key: str) -> bool:
        """Forget the secrets that gave ``key`` (if read long enough ago); True if any was."""
        now = time.monotonic()
        with self._lock:
            stale = [a for a, (v, at) in self._keys.items() if v == key and now - at >= self._min_reread_s]
            for arn in stale:
                del self._keys[arn]
        if stale:
            logger.warning("zhipu rejected the key from its secret; reading the secret again")
        return bool(stale)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


_secret_keys = _SecretKeys()


def zhipu_key_rejected(api_key: str) -> bool:
    """Zhipu refused ``api_key`` (401/403): the next call re-reads the secret it came from."""
    return _secret_keys.rejected(api_key)


def zhipu_api_key(settings: Settings) -> str | None:
    """The Zhipu API key to use, or None for the offline provider.

    ``ZHIPUAI_API_KEY`` wins (local runs, tests); else the secret named by
    ``ZHIPUAI_SECRET_ARN``, read once and cached for the life of the process.
    """
    if settings.zhipuai_api_key is not None and settings.zhipuai_api_key.get_secret_value():
        return settings.zhipuai_api_key.get_secret_value()
    if settings.zhipuai_secret_arn:
        return _secret_keys.get(settings.zhipuai_secret_arn)
    return None
