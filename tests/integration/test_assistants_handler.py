"""The assistants function invoked directly with canonical API Gateway events (REST and the
WebSocket ``visitor_chat`` action) against the real database and Valkey; frames go to a
recording stand-in of the management API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.events import load_event, rest_event
from tests.support.lambda_context import Reply, lambda_context
from tests.support.users import Principal, insert_user
from tests.ws_support import ManagementApi, text_of

SHOP = "https://shop.example.com"


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    from assistants_app.handler import lambda_handler

    return lambda_handler(event, lambda_context("assistants"))


@pytest.fixture()
def owner(platform: Any, db: Any) -> Principal:
    return insert_user(db, tier="pro", prefix="assistant-owner")


@pytest.fixture()
def management(platform: Any) -> Iterator[ManagementApi]:
    with ManagementApi(stage="test") as api:
        yield api


def publish(owner: Principal, **fields: Any) -> dict[str, Any]:
    reply = Reply(
        invoke(rest_event("POST", "/api/v1/assistants", authorizer=owner.authorizer, body={"name": "Help", **fields}))
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


def visitor_chat(assistant: dict[str, Any], message: Any, *, expires_in: int = 600) -> tuple[dict[str, Any], str]:
    """The canonical visitor_chat event for a fresh visitor of ``assistant``; (event, connection id)."""
    event = load_event("apigw_ws_visitor_chat.json")
    context = event["requestContext"]
    context["connectionId"] = uuid.uuid4().hex[:15] + "="
    context["authorizer"].update(
        assistant=assistant["public_id"],
        visitor_id=str(uuid.uuid4()),
        conversation_id=str(uuid.uuid4()),
        expires_at=str(int(time.time()) + expires_in),
    )
    if message is not None:
        event["body"] = message
    return event, context["connectionId"]


def test_a_visitor_chat_frame_streams_the_answer(owner: Principal, management: ManagementApi, db: Any) -> None:
    assistant = publish(owner, allowed_origins=[SHOP])
    event, connection_id = visitor_chat(assistant, None)

    assert invoke(event) == {"statusCode": 200}

    frames = management.frames[connection_id]
    assert [f["type"] for f in frames][-2:] == ["sources", "done"]
    done = frames[-1]
    stored = db.execute(
        "SELECT content, conversation_id::text AS cid FROM assistant_messages WHERE id = %s", (done["message_id"],)
    ).fetchone()
    assert stored["content"] == text_of(frames)
    assert stored["cid"] == event["requestContext"]["authorizer"]["conversation_id"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"expires_in": -60}, 401),
        ({"message": '{"action": "visitor_chat", "message": ""}'}, 422),
        ({"message": "not json"}, 422),
    ],
)
def test_bad_visitor_frames_are_error_frames(
    owner: Principal, management: ManagementApi, change: dict[str, Any], status: int
) -> None:
    assistant = publish(owner)
    event, connection_id = visitor_chat(assistant, change.get("message"), expires_in=change.get("expires_in", 600))
    assert invoke(event) == {"statusCode": 200}
    [frame] = management.frames[connection_id]
    assert frame["type"] == "error" and frame["status"] == status


def test_an_account_holders_frame_on_visitor_chat_is_refused(owner: Principal, management: ManagementApi) -> None:
    assistant = publish(owner)
    event, connection_id = visitor_chat(assistant, None)
    event["requestContext"]["authorizer"] = {**owner.authorizer, "assistant": assistant["public_id"]}
    invoke(event)
    [frame] = management.frames[connection_id]
    assert frame["status"] == 401


def test_the_public_routes_answer_cors_preflight(owner: Principal) -> None:
    assistant = publish(owner, allowed_origins=[SHOP])
    path = f"/api/v1/public/assistants/{assistant['public_id']}/sessions"
    preflight = {"Origin": SHOP, "Access-Control-Request-Method": "POST"}
    reply = Reply(invoke(rest_event("OPTIONS", path, headers=preflight)))
    assert reply.status_code == 204
    assert reply.headers["access-control-allow-origin"] == SHOP
    session = Reply(invoke(rest_event("POST", path, headers={"Origin": SHOP})))
    assert session.status_code == 201 and session.headers["access-control-allow-origin"] == SHOP


def test_one_address_cannot_mint_sessions_without_limit(owner: Principal) -> None:
    # Given an assistant open to any site, and a client address of its own (loopback is not metered in tests)
    assistant = publish(owner)
    path = f"/api/v1/public/assistants/{assistant['public_id']}/sessions"
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    statuses = [Reply(invoke(rest_event("POST", path, source_ip=address))).status_code for _ in range(20)]
    assert statuses == [201] * 20

    # When it asks for one more within the minute, then it is told to wait
    refused = Reply(invoke(rest_event("POST", path, source_ip=address)))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    # While another address is served
    assert Reply(invoke(rest_event("POST", path, source_ip="198.51.100.251"))).status_code == 201
