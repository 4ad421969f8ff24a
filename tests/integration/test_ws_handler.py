"""The chat function's WebSocket events, invoked with canonical API Gateway WebSocket events
(tests/events/apigw_ws_*.json) against the real database and Valkey; frames are posted with the
real boto3 management client to a recording stand-in of the management API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.chat_support import chat_uses_zhipu_fake, config_value, insert_user, invoke, rest_event
from tests.fakes.zhipu_fake import ZhipuFake
from tests.support.events import load_event
from tests.support.users import Principal
from tests.ws_support import ManagementApi, function_log_records, text_of

CONVERSATIONS = "/api/v1/conversations"


@pytest.fixture()
def alice(platform: Any, db: Any) -> Principal:
    return insert_user(db, tier="pro")


@pytest.fixture()
def management(platform: Any) -> Iterator[ManagementApi]:
    with ManagementApi(stage="test") as api:
        yield api


def ws_event(name: str, user: Principal | None, connection_id: str, body: Any = None) -> dict[str, Any]:
    """A canonical WebSocket event for ``user`` on ``connection_id`` (``body`` as the client's frame)."""
    event = load_event(name)
    context = event["requestContext"]
    context["connectionId"] = connection_id
    context["requestId"] = str(uuid.uuid4())
    if user is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {**user.authorizer, "integrationLatency": 14}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return event


def new_connection_id() -> str:
    return uuid.uuid4().hex[:15] + "="


def connect(user: Principal | None, connection_id: str) -> int:
    return invoke(ws_event("apigw_ws_connect.json", user, connection_id)).status_code


def new_conversation(user: Principal, **fields: Any) -> dict[str, Any]:
    resp = invoke(rest_event("POST", CONVERSATIONS, user=user, body={"title": "Orders", **fields}))
    assert resp.status_code == 201, resp.text
    return resp.json()


def messages_of(user: Principal, conversation_id: str) -> list[dict[str, Any]]:
    resp = invoke(rest_event("GET", f"{CONVERSATIONS}/{conversation_id}/messages", user=user))
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def connections_of(db: Any, user: Principal) -> list[str]:
    rows = db.execute("SELECT connection_id FROM ws_connections WHERE user_id = %s", (user.id,)).fetchall()
    return [r["connection_id"] for r in rows]


def test_connect_chat_disconnect_with_canonical_events(alice: Principal, management: ManagementApi, db: Any) -> None:
    conversation = new_conversation(alice, model="glm-4")
    connection_id = new_connection_id()

    # $connect records the connection with its user and lets the handshake complete
    assert connect(alice, connection_id) == 200
    assert connections_of(db, alice) == [connection_id]

    # A chat frame streams deltas, then sources, then done, through post_to_connection
    frame = {"action": "chat", "conversation_id": conversation["id"], "message": "我的订单什么时候发货？请详细说明。"}
    with chat_uses_zhipu_fake() as zhipu:
        reply = invoke(ws_event("apigw_ws_message.json", alice, connection_id, frame))
        [request] = zhipu.requests_to("/chat/completions")
    assert reply.status_code == 200
    frames = management.frames[connection_id]
    kinds = [f["type"] for f in frames]
    assert kinds[-2:] == ["sources", "done"] and kinds.count("delta") >= 2, kinds
    assert text_of(frames) == ZhipuFake.reply_for(request.body)
    stored = messages_of(alice, conversation["id"])
    assert stored[1]["id"] == frames[-1]["message_id"] and stored[1]["content"] == text_of(frames)
    assert stored[1]["cost"] == frames[-1]["usage"]["cost"] > 0

    # $disconnect forgets the connection
    assert invoke(ws_event("apigw_ws_disconnect.json", alice, connection_id)).status_code == 200
    assert connections_of(db, alice) == []


def test_connect_without_an_authorizer_context_is_refused(platform: Any, db: Any) -> None:
    connection_id = new_connection_id()
    assert connect(None, connection_id) == 401
    assert db.execute("SELECT 1 FROM ws_connections WHERE connection_id = %s", (connection_id,)).fetchone() is None


def test_a_connection_is_never_used_for_another_user(alice: Principal, management: ManagementApi, db: Any) -> None:
    # Given Mallory's connection and Alice's conversation
    mallory = insert_user(db)
    connection_id = new_connection_id()
    assert connect(mallory, connection_id) == 200
    conversation = new_conversation(alice)

    # When a frame on Mallory's connection claims to come from Alice (a forged context)
    frame = {"action": "chat", "conversation_id": conversation["id"], "message": "hi"}
    invoke(ws_event("apigw_ws_message.json", alice, connection_id, frame))

    # Then it is refused and nothing is stored; and Alice cannot take the connection id over either
    [error] = management.frames[connection_id]
    assert (error["type"], error["status"]) == ("error", 403)
    assert messages_of(alice, conversation["id"]) == []
    assert connect(alice, connection_id) == 403
    assert connections_of(db, mallory) == [connection_id]


def test_a_client_gone_from_the_start_still_gets_its_answer_stored(
    alice: Principal, management: ManagementApi, db: Any
) -> None:
    # Given a connection whose client leaves as soon as the first frame is sent
    conversation = new_conversation(alice)
    connection_id = new_connection_id()
    assert connect(alice, connection_id) == 200
    management.gone_after[connection_id] = 1
    frame = {"action": "chat", "conversation_id": conversation["id"], "message": "How long does shipping take?"}

    # When the answer is streamed
    with function_log_records() as records:
        reply = invoke(ws_event("apigw_ws_message.json", alice, connection_id, frame))

    # Then posting stopped at the first GoneException, nothing failed, and the answer is stored and billed
    assert reply.status_code == 200
    assert len(management.frames[connection_id]) == 1 and management.refused == 1
    assert [r.getMessage() for r in records if r.levelno >= 30] == []
    stored = messages_of(alice, conversation["id"])
    assert [(m["role"], m["status"]) for m in stored] == [("user", "ok"), ("assistant", "ok")]
    assert stored[1]["content"].startswith(management.frames[connection_id][0]["text"])
    # And the gone connection was forgotten
    assert connections_of(db, alice) == []


def test_a_provider_failure_mid_stream_is_an_error_frame_and_nothing_is_billed(
    alice: Principal, management: ManagementApi, db: Any
) -> None:
    conversation = new_conversation(alice, model="glm-4")
    connection_id = new_connection_id()
    assert connect(alice, connection_id) == 200
    frame = {"action": "chat", "conversation_id": conversation["id"], "message": "Tell me about returns, please."}

    # When Zhipu's stream breaks after its first piece
    with chat_uses_zhipu_fake() as zhipu:
        zhipu.fail_next(status=500, code="500", in_stream=True)
        invoke(ws_event("apigw_ws_message.json", alice, connection_id, frame))

    # Then the client gets the text so far and then an error frame it can act on
    frames = management.frames[connection_id]
    error = frames[-1]
    # (an error event inside a 200 stream is not retried: text was already sent)
    assert error["type"] == "error" and error["status"] == 502 and error["title"] == "Bad Gateway"
    assert error["problem_type"] == "https://claw.ai/problems/upstream-error"
    assert [f["type"] for f in frames[:-1]] == ["delta"] and frames[0]["text"]
    # And exactly what the HTTP chat stores on failure: the question, failed; no answer, no usage
    [question] = messages_of(alice, conversation["id"])
    assert (question["status"], question["error"]) == ("failed", "upstream-error")
    assert db.execute("SELECT count(*) AS n FROM usage_ledger WHERE user_id = %s", (alice.id,)).fetchone()["n"] == 0


def test_quota_exceeded_is_a_429_error_frame(alice: Principal, management: ManagementApi, db: Any) -> None:
    db.execute(
        """INSERT INTO usage_ledger (user_id, day, model, requests, total_tokens, prompt_tokens)
           VALUES (%s, (now() AT TIME ZONE 'UTC')::date, 'glm-4', 10, 2000000, 2000000)""",
        (alice.id,),
    )
    conversation = new_conversation(alice)
    connection_id = new_connection_id()
    assert connect(alice, connection_id) == 200

    frame = {"action": "chat", "conversation_id": conversation["id"], "message": "one more"}
    invoke(ws_event("apigw_ws_message.json", alice, connection_id, frame))

    [error] = management.frames[connection_id]
    assert error["type"] == "error" and error["status"] == 429 and error["title"] == "Token Quota Exceeded"
    assert error["retry_after"] > 0 and error["quota_tokens"] == 2_000_000


@pytest.mark.parametrize(
    ("route", "body", "loc"),
    [
        ("chat", {"action": "chat", "message": "no conversation"}, ["conversation_id"]),
        ("chat", {"action": "chat", "conversation_id": "x", "message": "hi", "top_k": 500}, ["top_k"]),
        ("chat", "[1, 2, 3]", ["body"]),
        ("$default", {"action": "dance"}, ["body", "action"]),
        ("$default", "not json at all", ["body"]),
    ],
)
def test_bad_frames_are_422_error_frames(
    alice: Principal, management: ManagementApi, route: str, body: Any, loc: list[str]
) -> None:
    connection_id = new_connection_id()
    assert connect(alice, connection_id) == 200
    event = ws_event("apigw_ws_message.json", alice, connection_id, body)
    event["requestContext"]["routeKey"] = route

    invoke(event)

    [error] = management.frames[connection_id]
    assert error["type"] == "error" and error["status"] == 422
    assert error["errors"][0]["loc"] == loc


def test_an_account_disabled_after_connecting_gets_401(alice: Principal, management: ManagementApi, db: Any) -> None:
    from claw_common.auth.accounts import forget_principal

    conversation = new_conversation(alice)
    connection_id = new_connection_id()
    assert connect(alice, connection_id) == 200
    # The authorizer's verdict is as old as the connection; the account is disabled afterwards
    db.execute("UPDATE users SET is_active = false WHERE id = %s", (alice.id,))
    forget_principal(user_id=alice.id)

    frame = {"action": "chat", "conversation_id": conversation["id"], "message": "still there?"}
    invoke(ws_event("apigw_ws_message.json", alice, connection_id, frame))

    [error] = management.frames[connection_id]
    assert (error["type"], error["status"]) == ("error", 401)
    assert (
        db.execute("SELECT count(*) AS n FROM messages WHERE conversation_id = %s", (conversation["id"],)).fetchone()[
            "n"
        ]
        == 0
    )


def test_streamed_questions_share_the_chat_routes_rate_limit(
    alice: Principal, management: ManagementApi, db: Any
) -> None:
    # Given a messages route limit of one question per minute
    conversation = new_conversation(alice)
    connection_id = new_connection_id()
    assert connect(alice, connection_id) == 200
    frame = {"action": "chat", "conversation_id": conversation["id"], "message": "first"}

    with config_value(db, "rate_limit.routes", {"messages": {"per_minute": 1}}):
        invoke(ws_event("apigw_ws_message.json", alice, connection_id, frame))
        invoke(ws_event("apigw_ws_message.json", alice, connection_id, {**frame, "message": "second"}))
        # The REST chat route draws from the same bucket
        rest = invoke(
            rest_event("POST", f"{CONVERSATIONS}/{conversation['id']}/chat", user=alice, body={"message": "third"})
        )

    frames = management.frames[connection_id]
    assert [f["type"] for f in frames][-2:] == ["done", "error"]
    assert frames[-1]["status"] == 429 and frames[-1]["retry_after"] >= 1
    assert rest.status_code == 429
    # Only the first question was stored and answered (read from the database: reading messages
    # through the API draws from the same, now empty, bucket)
    rows = db.execute(
        "SELECT role, content FROM messages WHERE conversation_id = %s ORDER BY created_at", (conversation["id"],)
    ).fetchall()
    assert [r["role"] for r in rows] == ["user", "assistant"] and rows[0]["content"] == "first"
