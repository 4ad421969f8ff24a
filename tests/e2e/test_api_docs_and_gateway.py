"""What a newcomer meets first: the API docs, access lines, trailing slashes, oversized
bodies, identical uploads and the knowledge budgets, through the local gateway."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from openapi_spec_validator import validate

from claw_local.gateway import MAX_LAMBDA_PAYLOAD
from claw_local.template import load_local_stack
from tests.auth_helpers import new_user
from tests.knowledge_helpers import API, create_kb


@pytest.fixture(scope="module")
def document(api: Any) -> dict[str, Any]:
    resp = api.get(f"{API}/openapi.json")
    assert resp.status_code == 200
    return dict(resp.json())


def test_the_openapi_document_is_valid_and_covers_every_route_of_the_template(document: dict[str, Any]) -> None:
    validate(document)
    methods = ("get", "put", "post", "delete", "patch")
    for route in load_local_stack().routes:
        if route.path.endswith("{proxy+}"):
            prefix = route.path.removesuffix("{proxy+}")
            found = [p for p in document["paths"] if p.startswith(prefix)]
        else:
            item = document["paths"].get(route.path) or {}
            found = [m for m in item if m in methods and route.method in ("ANY", m.upper())]
        assert found, f"{route.method} {route.path} is not documented"


def test_the_document_says_how_to_authenticate_and_what_errors_look_like(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyAuth"]["in"] == "header" and schemes["apiKeyAuth"]["name"] == "Authorization"
    # The server the caller used comes first, so "Try it out" calls this platform
    assert document["servers"][0]["url"].startswith("http://127.0.0.1:")
    me = document["paths"]["/api/v1/auth/me"]["get"]
    assert {"bearerAuth": []} in me["security"]
    assert document["paths"]["/api/v1/auth/login"]["post"]["security"] == []
    assert "application/problem+json" in me["responses"]["401"]["content"]
    upload = document["paths"]["/api/v1/knowledge/{kb_id}/documents/upload"]["post"]
    assert "application/problem+json" in upload["responses"]["413"]["content"]
    assert "WebSocket" in document["info"]["description"]


def test_docs_page_and_its_assets_load_without_the_internet(api: Any) -> None:
    page = api.get(f"{API}/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "https://" not in page.text and "http://" not in page.text
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"):
        resp = api.get(f"{API}/docs/{asset}")
        assert resp.status_code == 200 and len(resp.content) > 10_000, asset
    # With a trailing slash the page's relative URLs land one level deeper: served the same
    assert api.get(f"{API}/docs/").status_code == 200
    assert api.get(f"{API}/docs/docs/swagger-ui.css").status_code == 200
    assert api.get(f"{API}/docs/openapi.json").json()["info"]["title"] == "CLAW.AI API"
    assert api.get(f"{API}/docs/secrets.txt").status_code == 404


def test_every_request_gets_one_access_line_with_its_request_id(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="claw_local.access"):
        missing = api.get(f"{API}/no-such-route")
        health = api.get(f"{API}/health")
    lines = [r.getMessage() for r in caplog.records if r.name == "claw_local.access"]
    for resp, route in ((missing, "route=-"), (health, "route=GET /api/v1/health -> ConfigFunction")):
        request_id = resp.headers["x-request-id"]
        mine = [line for line in lines if request_id in line]
        assert len(mine) == 1, lines
        assert f" {resp.status_code} " in mine[0] and route in mine[0] and "ms " in mine[0]


def test_trailing_slashes_are_served_without_a_redirect(api: Any) -> None:
    user = new_user(api)
    resp = api.post(f"{API}/conversations/", json={"title": "slash"}, headers=user.headers, follow_redirects=False)
    assert resp.status_code == 201, resp.text
    listed = api.get(f"{API}/conversations/", headers=user.headers, follow_redirects=False)
    assert listed.status_code == 200 and resp.json()["id"] in [c["id"] for c in listed.json()["items"]]


def test_a_body_too_large_for_the_gateway_points_to_the_upload_url(api: Any) -> None:
    user = new_user(api)
    kb = create_kb(api, user)
    body = b"x" * (MAX_LAMBDA_PAYLOAD + 1)
    resp = api.post(
        f"{API}/knowledge/{kb}/documents/upload",
        files={"file": ("big.txt", body, "text/plain")},
        headers=user.headers,
    )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"
    problem = json.loads(resp.content)
    assert problem["status"] == 413 and "upload-url" in problem["detail"]
    assert resp.headers["x-request-id"]


def test_identical_content_uploaded_again_answers_with_the_existing_document(api: Any) -> None:
    user = new_user(api)
    kb = create_kb(api, user)
    url = f"{API}/knowledge/{kb}/documents/upload"
    content = "配送政策：下单后 48 小时内发货。".encode()
    first = api.post(url, files={"file": ("shipping.txt", content, "text/plain")}, headers=user.headers)
    assert first.status_code == 202, first.text
    # The same bytes under another name: the existing document, nothing stored twice
    again = api.post(url, files={"file": ("copy.txt", content, "text/plain")}, headers=user.headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # Different content of the same size is a new document
    other = api.post(url, files={"file": ("other.txt", content[:-3] + b"!!!", "text/plain")}, headers=user.headers)
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    # replace=true stores it anew
    replaced = api.post(
        f"{url}?replace=true", files={"file": ("shipping.txt", content, "text/plain")}, headers=user.headers
    )
    assert replaced.status_code == 202 and replaced.json()["id"] != first.json()["id"]
    listed = api.get(f"{API}/knowledge/{kb}/documents", headers=user.headers).json()["items"]
    assert len(listed) == 3


def test_listing_and_status_polling_leave_the_upload_budget_alone(api: Any) -> None:
    user = new_user(api)
    kb = create_kb(api, user)
    for _ in range(3):
        assert api.get(f"{API}/knowledge/{kb}/documents", headers=user.headers).status_code == 200
    buckets = {b["scope"]: b for b in api.get(f"{API}/rate-limit/status", headers=user.headers).json()["buckets"]}
    # Creating the knowledge base was the only write; the three listings drew on the reads bucket
    assert buckets["route:knowledge"]["limit"] - buckets["route:knowledge"]["remaining"] == 1
    assert buckets["route:knowledge_reads"]["limit"] - buckets["route:knowledge_reads"]["remaining"] == 3
