"""The client's address: read in this one place, by the APIs, the WebSocket API and the authorizer.

Only API Gateway's view counts: ``requestContext.identity.sourceIp``, which it takes from the
TCP connection (the local gateway does the same). A client's ``X-Forwarded-For`` is never read.
Standard library only, so the authorizer can import it without FastAPI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UNKNOWN_IP = "unknown"


def event_source_ip(event: Mapping[str, Any] | None) -> str | None:
    """``requestContext.identity.sourceIp`` of an API Gateway event (REST, WebSocket, authorizer), or None."""
    if not isinstance(event, Mapping):
        return None
    request_context = event.get("requestContext") or {}
    identity = request_context.get("identity") if isinstance(request_context, Mapping) else None
    ip = identity.get("sourceIp") if isinstance(identity, Mapping) else None
    return str(ip) if ip else None


def client_ip(scope: Mapping[str, Any]) -> str:
    """The client address of an ASGI request: API Gateway's ``sourceIp`` (through Mangum's
    ``aws.event``), else the socket peer (an ASGI server in front), else ``"unknown"``."""
    ip = event_source_ip(scope.get("aws.event"))
    if ip:
        return ip
    client = scope.get("client")
    return str(client[0]) if client else UNKNOWN_IP


__all__ = ["UNKNOWN_IP", "client_ip", "event_source_ip"]
