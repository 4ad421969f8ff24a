"""Bad input through the real gateway: clear 422s naming the field, never a 500 (issue: robust input).

Control characters (NUL above all: PostgreSQL text cannot hold it) are refused wherever text
enters — JSON bodies (unauthenticated login and register included), query parameters,
multipart fields and file names, WebSocket frames; every cursor decodes to its one shape or
is a 422; a client cannot choose its IP with X-Forwarded-For.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.auth_helpers import API, TestUser, new_user
from tests.knowledge_helpers import create_kb
from tests.ws_support import create_conversation, ws_url


@pytest.fixture(scope="module")
def alice(api: Any) -> TestUser:
    return new_user(api)


@pytest.fixture(scope="module")
def admin(api: Any) -> TestUser:
    return new_user(api, admin=True)


def assert_refused(resp: Any, loc: list[str]) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert loc in [e["loc"] for e in body["errors"]], body
    assert "\x00" not in resp.text and "\\u0000" not in resp.text  # the value is never echoed


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/auth/login", {"email": "a\x00@example.com", "password": "x"}, ["body", "email"]),
        (
            "/auth/register",
            {"email": "n@example.com", "password": "Long-enough-1", "name": "Bob\x00"},
            ["body", "name"],
        ),
        ("/auth/register", {"email": "n@example.com", "password": "Long-enough-1\x1b"}, ["body", "password"]),
    ],
)
def test_unauthenticated_json_with_nul_is_a_422_naming_the_field(
    api: Any, path: str, body: dict[str, Any], loc: list[str]
) -> None:
    assert_refused(api.post(f"{API}{path}", json=body), loc)


def test_authenticated_bodies_at_any_depth_and_query_parameters_are_checked(alice: TestUser, api: Any) -> None:
    h = alice.headers
    assert_refused(api.post(f"{API}/conversations", json={"title": "t\x00"}, headers=h), ["body", "title"])
    assert_refused(
        api.post(f"{API}/conversations", json={"title": "ok", "metadata": {"tags": ["x", "\x08"]}}, headers=h),
        ["body", "metadata", "tags", "1"],
    )
    assert_refused(api.get(f"{API}/conversations", params={"status": "active\x00"}, headers=h), ["query", "status"])
    # Tabs and line breaks are text: accepted.
    ok = api.post(f"{API}/conversations", json={"title": "line one\n\tline two"}, headers=h)
    assert ok.status_code == 201, ok.text
    conversation = ok.json()["id"]
    assert_refused(
        api.post(f"{API}/conversations/{conversation}/messages", json={"content": "hi\x00"}, headers=h),
        ["body", "content"],
    )
    assert_refused(
        api.put(f"{API}/conversations/{conversation}", json={"system_prompt": "\x00"}, headers=h),
        ["body", "system_prompt"],
    )


def test_admin_config_values_are_checked_too(admin: TestUser, api: Any) -> None:
    resp = api.post(
        f"{API}/configs",
        json={"key": "ui.banner_text", "value": {"zh": "你好\x00"}, "description": "banner"},
        headers=admin.headers,
    )
    assert_refused(resp, ["body", "value", "zh"])


def test_multipart_fields_and_file_names_are_checked(alice: TestUser, api: Any) -> None:
    kb = create_kb(api, alice)
    url = f"{API}/knowledge/{kb}/documents/upload"
    files = {"file": ("notes.txt", b"plain text\n", "text/plain")}
    assert_refused(api.post(url, files=files, data={"title": "t\x00"}, headers=alice.headers), ["body", "title"])
    # A raw control byte in the part's file name (httpx would percent-encode it).
    raw = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="no\x01tes.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nplain text\n\r\n--B--\r\n"
    )
    resp = api.post(url, content=raw, headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=B"})
    assert_refused(resp, ["body", "file", "filename"])
    # Binary file content is not text: a NUL byte inside the file is the parser's business.
    fine = api.post(url, files={"file": ("data.txt", b"a\x00b\n", "text/plain")}, headers=alice.headers)
    assert fine.status_code == 202, fine.text


def test_a_number_where_a_key_cursor_belongs_is_a_422(api: Any) -> None:
    # base64 of 1 on the public, unauthenticated list (it was a 500).
    assert_refused(api.get(f"{API}/configs/public", params={"cursor": "MQ"}), ["query", "cursor"])


# {"a": 1}, not base64, true, [] — none of them is any list's position.
@pytest.mark.parametrize("cursor", ["eyJhIjogMX0", "%%%", "dHJ1ZQ", "W10"])
def test_any_cursor_that_is_not_ours_is_a_422_everywhere(
    cursor: str, alice: TestUser, admin: TestUser, api: Any
) -> None:
    kb = create_kb(api, alice)
    for path, user in [
        ("/configs/public", None),
        ("/configs", admin),
        ("/configs/audit/log", admin),
        ("/configs/rate_limit.ip/history", admin),
        ("/users", admin),
        ("/conversations", alice),
        ("/knowledge", alice),
        (f"/knowledge/{kb}/documents", alice),
    ]:
        resp = api.get(f"{API}{path}", params={"cursor": cursor}, headers=user.headers if user else {})
        assert_refused(resp, ["query", "cursor"])


def test_a_chat_frame_with_a_control_character_is_a_422_error_frame(platform: Any, alice: TestUser, api: Any) -> None:
    conversation = create_conversation(api, alice)["id"]
    with connect(ws_url(platform, alice.access_token)) as ws:
        ws.send(json.dumps({"action": "chat", "conversation_id": conversation, "message": "hello\x00"}))
        frame = json.loads(ws.recv(timeout=20))
    assert frame["type"] == "error" and frame["status"] == 422
    assert ["body", "message"] in [e["loc"] for e in frame["errors"]]


def test_x_forwarded_for_does_not_change_the_client_address(alice: TestUser, api: Any) -> None:
    resp = api.get(
        f"{API}/rate-limit/status", headers={**alice.headers, "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "10.1.1.1"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["ip"] == "127.0.0.1"


def test_method_not_allowed_names_every_allowed_method(alice: TestUser, api: Any) -> None:
    resp = api.patch(f"{API}/conversations", headers=alice.headers)
    assert resp.status_code == 405 and resp.headers["content-type"].startswith("application/problem+json")
    assert set(resp.headers["allow"].split(", ")) >= {"GET", "POST"}
