"""Who may reach an assistant: origins, visitor tokens kept to their assistant's public routes,
other users, other users' knowledge bases, CORS."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from claw_common.auth.tokens import parse_key_ring
from claw_common.auth.visitor_tokens import issue_visitor_token
from tests.assistant_helpers import (
    API,
    SHOP,
    ask,
    create_assistant,
    knowledge_base_with,
    session_token,
    start_session,
    visitor_headers,
)
from tests.auth_helpers import new_user


@pytest.fixture(scope="module")
def owner(api: Any) -> Any:
    return new_user(api)


@pytest.fixture(scope="module")
def shop_assistant(api: Any, owner: Any) -> dict[str, Any]:
    return create_assistant(api, owner, allowed_origins=[SHOP + "/"])


def test_only_allowed_origins_open_sessions(api: Any, owner: Any, shop_assistant: dict[str, Any]) -> None:
    public_id = shop_assistant["public_id"]
    # The origin was stored as browsers send it (no trailing slash)
    assert shop_assistant["allowed_origins"] == [SHOP]
    assert start_session(api, public_id).status_code == 201
    refused = start_session(api, public_id, origin="https://evil.example.net")
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert "access-control-allow-origin" not in refused.headers
    assert start_session(api, public_id, origin=None).status_code == 403

    # An assistant without allowed origins opens sessions anywhere
    anywhere = create_assistant(api, owner)
    assert start_session(api, anywhere["public_id"], origin="https://any.example.org").status_code == 201
    assert start_session(api, anywhere["public_id"], origin=None).status_code == 201


def test_cors_preflight_answers_allowed_origins_only(api: Any, shop_assistant: dict[str, Any]) -> None:
    path = f"{API}/public/assistants/{shop_assistant['public_id']}/chat"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = api.options(path, headers={"Origin": SHOP, **preflight})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "Authorization" in ok.headers["access-control-allow-headers"]
    refused = api.options(path, headers={"Origin": "https://evil.example.net", **preflight})
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_a_visitor_token_reaches_only_its_assistants_public_routes(
    api: Any, owner: Any, shop_assistant: dict[str, Any]
) -> None:
    token = session_token(api, shop_assistant["public_id"])
    bearer = {"Authorization": f"Bearer {token}", "Origin": SHOP}

    # Routes for account holders: the authorizer refuses the token
    for method, path in [
        ("GET", "/conversations"),
        ("POST", "/conversations"),
        ("GET", "/knowledge"),
        ("GET", "/assistants"),
        ("GET", f"/assistants/{shop_assistant['id']}/conversations"),
        ("GET", "/auth/me"),
        ("GET", "/openai/models"),
    ]:
        resp = api.request(method, f"{API}{path}", headers=bearer, json={} if method == "POST" else None)
        assert resp.status_code == 401, (method, path, resp.status_code)

    # Another assistant's public routes: refused by the function
    other = create_assistant(api, owner)
    assert ask(api, other["public_id"], token, "Hello?").status_code == 403
    feedback = api.post(
        f"{API}/public/assistants/{other['public_id']}/feedback",
        json={"message_id": "00000000-0000-0000-0000-000000000000", "rating": "up"},
        headers=bearer,
    )
    assert feedback.status_code == 403
    assert start_session(api, other["public_id"], token=token).status_code == 403

    # Another website, no token, a garbage token
    assert ask(api, shop_assistant["public_id"], token, "Hi", origin="https://evil.example.net").status_code == 403
    no_token = api.post(
        f"{API}/public/assistants/{shop_assistant['public_id']}/chat", json={"message": "Hi"}, headers={"Origin": SHOP}
    )
    assert no_token.status_code == 401
    assert ask(api, shop_assistant["public_id"], "not.a.token", "Hi").status_code == 401
    # An access token is not a session token
    assert ask(api, shop_assistant["public_id"], owner.access_token, "Hi").status_code == 401


def test_an_expired_visitor_token_is_refused(api: Any, platform: Any, shop_assistant: dict[str, Any]) -> None:
    ring = parse_key_ring(os.environ["JWT_SIGNING_KEYS"])
    expired = issue_visitor_token(
        ring,
        visitor_id="11111111-1111-4111-8111-111111111111",
        assistant=shop_assistant["public_id"],
        conversation_id="22222222-2222-4222-8222-222222222222",
        origin=SHOP,
        issuer=os.environ.get("JWT_ISSUER") or "https://claw.ai",
        ttl_s=60,
        now=int(time.time()) - 3600,
    )
    resp = ask(api, shop_assistant["public_id"], expired, "Hello?")
    assert resp.status_code == 401
    assert resp.headers["access-control-allow-origin"] == SHOP  # the widget can read the refusal
    # Nor can it be renewed
    assert start_session(api, shop_assistant["public_id"], token=expired).status_code == 401


def test_a_session_renews_for_the_same_visitor_and_conversation(api: Any, shop_assistant: dict[str, Any]) -> None:
    first = start_session(api, shop_assistant["public_id"]).json()
    renewed = start_session(api, shop_assistant["public_id"], token=first["session_token"])
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["conversation_id"] == first["conversation_id"]
    assert renewed.json()["session_token"] != first["session_token"]
    answer = ask(api, shop_assistant["public_id"], renewed.json()["session_token"], "Hello?")
    assert answer.status_code == 200 and answer.json()["conversation_id"] == first["conversation_id"]


def test_other_users_get_404_for_an_assistant_and_its_conversations(
    api: Any, owner: Any, shop_assistant: dict[str, Any]
) -> None:
    token = session_token(api, shop_assistant["public_id"])
    conversation_id = ask(api, shop_assistant["public_id"], token, "Hello?").json()["conversation_id"]
    bob = new_user(api)
    base = f"{API}/assistants/{shop_assistant['id']}"
    for method, path in [
        ("GET", base),
        ("PUT", base),
        ("DELETE", base),
        ("GET", f"{base}/conversations"),
        ("GET", f"{base}/conversations/{conversation_id}/messages"),
        ("GET", f"{base}/stats"),
        ("GET", f"{base}/export"),
    ]:
        resp = api.request(method, path, headers=bob.headers, json={"name": "Mine"} if method == "PUT" else None)
        assert resp.status_code == 404, (method, path, resp.status_code)
    assert all(
        a["id"] != shop_assistant["id"] for a in api.get(f"{API}/assistants", headers=bob.headers).json()["items"]
    )
    # And the owner still has it, untouched
    assert api.get(base, headers=owner.headers).json()["name"] == shop_assistant["name"]
    # A conversation id of another assistant of the owner is 404 as well
    other = create_assistant(api, owner)
    assert (
        api.get(
            f"{API}/assistants/{other['id']}/conversations/{conversation_id}/messages", headers=owner.headers
        ).status_code
        == 404
    )


def test_an_assistant_cannot_use_another_users_knowledge_base(api: Any, db: Any, owner: Any) -> None:
    bob = new_user(api)
    bobs_kb = knowledge_base_with(api, db, bob, content="Bob's secret price list: widgets cost 7 euros.")
    resp = api.post(f"{API}/assistants", json={"name": "Thief", "knowledge_base_ids": [bobs_kb]}, headers=owner.headers)
    assert resp.status_code == 404
    mine = create_assistant(api, owner)
    update = api.put(f"{API}/assistants/{mine['id']}", json={"knowledge_base_ids": [bobs_kb]}, headers=owner.headers)
    assert update.status_code == 404
    assert api.get(f"{API}/assistants/{mine['id']}", headers=owner.headers).json()["knowledge_base_ids"] == []


def test_bad_input_is_a_clear_4xx(api: Any, owner: Any, shop_assistant: dict[str, Any]) -> None:
    assert api.post(f"{API}/assistants", json={"name": ""}, headers=owner.headers).status_code == 422
    nulls = api.post(
        f"{API}/assistants",
        json={"name": "Nulls", "welcome_message": None, "is_active": None, "allowed_origins": None},
        headers=owner.headers,
    )
    assert nulls.status_code == 201 and nulls.json()["welcome_message"] == "" and nulls.json()["is_active"] is True
    bad_origin = api.post(
        f"{API}/assistants", json={"name": "x", "allowed_origins": ["shop.example.com/path"]}, headers=owner.headers
    )
    assert bad_origin.status_code == 422
    assert api.get(f"{API}/assistants/not-a-uuid", headers=owner.headers).status_code == 404
    token = session_token(api, shop_assistant["public_id"])
    empty = api.post(
        f"{API}/public/assistants/{shop_assistant['public_id']}/chat",
        json={"message": "   "},
        headers=visitor_headers(token),
    )
    assert empty.status_code == 422
    assert start_session(api, "ast_doesnotexist0000000000").status_code == 404
    assert start_session(api, "not-an-assistant").status_code == 404
