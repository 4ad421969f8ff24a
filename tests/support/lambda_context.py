"""Lambda contexts and proxy responses, as the managed runtime gives and takes them."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any


def lambda_context(function: str = "test", *, timeout_s: int = 29, memory_mb: int = 1024) -> Any:
    """A context like the runtime's: a request id, a name, and a clock of ``timeout_s`` seconds."""
    from claw_local.lambda_runtime import LambdaContext

    name = f"claw-ai-test-{function}"
    return LambdaContext(
        function_name=name,
        memory_limit_in_mb=memory_mb,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        aws_request_id=str(uuid.uuid4()),
        timeout_s=timeout_s,
    )


class Reply:
    """A Lambda proxy response, read like an HTTP response (headers lower-cased, body decoded)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.status_code = int(raw["statusCode"])
        headers = dict(raw.get("headers") or {})
        for name, values in (raw.get("multiValueHeaders") or {}).items():
            headers[name] = values[-1]
        self.headers = {k.lower(): v for k, v in headers.items()}
        body = raw.get("body") or ""
        self.text = base64.b64decode(body).decode() if raw.get("isBase64Encoded") else body

    @property
    def status(self) -> int:
        return self.status_code

    @property
    def body(self) -> str:
        return self.text

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None
