"""Which engine reads pages: the setting ``OCR_ENGINE``, overridden by the config key ``ingest.ocr``.

``faster-paddle-tiny`` (default) and ``faster-paddle-small`` run offline from the wheel;
``zhipu-vision`` sends pages to a GLM-4V model and needs a Zhipu key (``ZHIPUAI_API_KEY``, or
the secret named by ``ZHIPUAI_SECRET_ARN``). Without a key that choice fails at the first
page with a clear reason rather than silently reading with another engine.
"""

from __future__ import annotations

import json
from functools import lru_cache

from claw_common.observability import logger
from claw_common.settings import Settings, get_settings
from ocr_app.engines import OcrEngine, OcrError, ZhipuVisionOcr, default_engine


def engine_choice(settings: Settings) -> tuple[str, str]:
    """(engine name, vision model) from ``ingest.ocr`` (cached by the config reader), else the setting."""
    value = (settings.ocr_engine, "glm-4v-flash")
    try:
        from claw_common.config.schema import read_typed

        config = read_typed("ingest.ocr")
        if config is not None:
            value = (config.engine, config.vision_model)
    except Exception:  # noqa: BLE001 - a config outage must not stop OCR; the setting applies
        logger.warning("ingest.ocr could not be read; using OCR_ENGINE")
    return value


def current_engine() -> OcrEngine:
    """The engine for the next page range (offline engines are loaded once per process)."""
    settings = get_settings()
    return engine_for(settings, *engine_choice(settings))


def engine_for(settings: Settings, name: str, vision_model: str) -> OcrEngine:
    """The engine called ``name``; ``zhipu-vision`` reads with ``vision_model`` and needs a Zhipu key."""
    if name != "zhipu-vision":
        return default_engine(name)
    key = _zhipu_key(settings)
    if not key:
        raise OcrError("The vision OCR engine is chosen but no Zhipu key is configured.", code="unavailable")
    return _vision(key, vision_model, settings.zhipuai_base_url)


@lru_cache(maxsize=4)
def _vision(key: str, model: str, base_url: str | None) -> OcrEngine:
    return ZhipuVisionOcr(key, model=model, base_url=base_url)


def _zhipu_key(settings: Settings) -> str | None:
    if settings.zhipuai_api_key is not None and settings.zhipuai_api_key.get_secret_value():
        return settings.zhipuai_api_key.get_secret_value()
    if settings.zhipuai_secret_arn:
        return _key_from_secret(settings.zhipuai_secret_arn)
    return None


@lru_cache(maxsize=2)
def _key_from_secret(secret_arn: str) -> str | None:
    """The key in the secret: JSON ``{"api_key": ...}`` or the bare key (read once per cold start)."""
    from claw_common.aws import aws_client

    raw = (aws_client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString") or "").strip()
    if raw.startswith("{"):
        try:
            value = json.loads(raw).get("api_key")
        except (ValueError, AttributeError):
            return None
        return value.strip() or None if isinstance(value, str) else None
    return raw or None
