"""The local gateway over HTTP: public routes, API Gateway's own responses, event shape."""

from __future__ import annotations

import base64
from typing import Any

from claw_local.gateway import match_route


def test_health_answers_200_with_database_and_cache_ok(api: Any) -> None:
    resp = api.get("/api/v1/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert resp.headers["x-request-id"]


def test_unknown_route_is_the_gateway_403_as_problem_json(api: Any) -> None:
    resp = api.get("/api/v1/does-not-exist")
    assert resp.status_code == 403
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["status"] == 403
    assert resp.headers["x-request-id"]


def test_protected_route_without_credentials_is_401_problem_json_without_calling_a_function(
    api: Any, platform: Any
) -> None:
    before = platform.lambdas["ChatFunction"].invocations
    resp = api.get("/api/v1/conversations")
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["title"] == "Unauthorized"
    assert platform.lambdas["ChatFunction"].invocations == before


def test_request_over_the_lambda_payload_limit_is_413(api: Any) -> None:
    resp = api.post("/api/v1/auth/login", content=b"x" * (6 * 1024 * 1024 + 10))
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"


def test_proxy_event_has_the_rest_api_shape(platform: Any) -> None:
    gateway = platform.gateway
    match = match_route(platform.stack.routes, "/api/v1/configs/ai.pricing/history", "GET")
    assert match is not None
    event = gateway._proxy_event(
        match,
        "/api/v1/configs/ai.pricing/history",
        "GET",
        {"Accept": "application/json", "X-Tag": "b"},
        {"Accept": ["application/json"], "X-Tag": ["a", "b"]},
        "limit=5&tag=x&tag=y",
        b"",
        "req-1",
        "127.0.0.1",
    )
    assert event["resource"] == "/api/v1/configs/{proxy+}"
    assert event["pathParameters"] == {"proxy": "ai.pricing/history"}
    assert event["queryStringParameters"] == {"limit": "5", "tag": "y"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["5"], "tag": ["x", "y"]}
    assert event["multiValueHeaders"]["X-Tag"] == ["a", "b"]
    ctx = event["requestContext"]
    assert ctx["requestId"] == "req-1" and ctx["stage"] == platform.stack.stage
    assert ctx["path"] == f"/{platform.stack.stage}/api/v1/configs/ai.pricing/history"
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_binary_media_types_arrive_base64_encoded(platform: Any) -> None:
    gateway = platform.gateway
    match = match_route(platform.stack.routes, "/api/v1/knowledge/1/documents/upload", "POST")
    assert match is not None
    raw = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n\xff\xfe\r\n--b--\r\n'
    event = gateway._proxy_event(
        match,
        "/api/v1/knowledge/1/documents/upload",
        "POST",
        {"Content-Type": "multipart/form-data; boundary=b"},
        {},
        "",
        raw,
        "req-2",
        "127.0.0.1",
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw
