"""Events as API Gateway sends them, built from the canonical samples in ``tests/events``.

The REST event's ``resource`` and ``pathParameters`` come from the SAM template's routes, matched
the way API Gateway (and the local gateway) matches them, so a test cannot build an event for a
route that is not deployed.
"""

from __future__ import annotations

import copy
import json
import uuid
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"
LOOPBACK = "127.0.0.1"
"""The local gateway's clients: the test stage keeps no IP bucket for it, so handler tests do not
drain a per-IP limit every event would otherwise share."""


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a canonical event from tests/events."""
    return copy.deepcopy(_cached(name))


@cache
def _cached(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@lru_cache(maxsize=1)
def _routes() -> list[Any]:
    from claw_local.template import load_local_stack

    return load_local_stack().routes


def route_of(method: str, path: str) -> tuple[str, dict[str, str] | None]:
    """The template's resource for ``method path`` and its path parameters (KeyError if none)."""
    from claw_local.gateway import match_route

    match = match_route(_routes(), path, method)
    if match is None:
        raise KeyError(f"no route of the template serves {method} {path}")
    return match.route.path, match.path_parameters or None


def rest_event(
    method: str,
    path: str,
    *,
    authorizer: dict[str, Any] | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    source_ip: str = LOOPBACK,
    sample: str = "apigw_rest_post_chat.json",
) -> dict[str, Any]:
    """A REST proxy event for ``method path`` (``path`` with its /api/v1 prefix), after the authorizer.

    ``authorizer`` is what the authorizer put in ``requestContext.authorizer`` (None: a public route);
    ``body`` is JSON-encoded unless already a string.
    """
    event = load_event(sample)
    resource, params = route_of(method, path)
    hdrs = {k: v for k, v in event["headers"].items() if k not in ("Authorization", "If-Match")}
    if body is not None and not isinstance(body, str):
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    event.update(
        resource=resource,
        path=path,
        httpMethod=method,
        headers=hdrs,
        multiValueHeaders={k: [v] for k, v in hdrs.items()},
        pathParameters=params,
        queryStringParameters=dict(query) if query else None,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        body=None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        isBase64Encoded=False,
    )
    context = event["requestContext"]
    context.update(resourcePath=resource, httpMethod=method, path=f"/{context['stage']}{path}")
    context["requestId"] = str(uuid.uuid4())
    context["identity"]["sourceIp"] = source_ip
    if authorizer is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"auth_method": "jwt", "principalId": authorizer.get("user_id"), **authorizer}
    return event


def authorizer_event(authorization: str | None = None, **extra_headers: str) -> dict[str, Any]:
    """The REQUEST authorizer's event for a request carrying ``Authorization: authorization``."""
    event = load_event("apigw_authorizer_request.json")
    headers = {k: v for k, v in event["headers"].items() if k != "Authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    headers.update(extra_headers)
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    return event


def sqs_event(bodies: list[dict[str, Any]], *, ids: list[str] | None = None) -> dict[str, Any]:
    """An SQS batch event (as the ingest trigger sends) with one record per S3 notification body."""
    template = load_event("sqs_s3_object_created.json")["Records"][0]
    records = []
    for i, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = ids[i] if ids else str(uuid.uuid4())
        record["receiptHandle"] = f"handle-{record['messageId']}"
        record["body"] = json.dumps(body)
        records.append(record)
    return {"Records": records}
