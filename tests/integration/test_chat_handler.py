"""The chat function's handler with real API Gateway events, against the real database, Valkey
and the local fake of Zhipu's API (the real zhipuai SDK runs)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from claw_ai.messages import Usage
from claw_ai.pricing import cost_for
from tests.chat_support import chat_uses_zhipu_fake, config_value, insert_user, invoke, rest_event
from tests.fakes.zhipu_fake import ZhipuFake
from tests.support.users import Principal

CONVERSATIONS = "/api/v1/conversations"
CHAT_PATH = "/chat/completions"
QUOTA_TYPE = "https://claw.ai/problems/quota-exceeded"


@pytest.fixture()
def alice(platform: Any, db: Any) -> Principal:
    return insert_user(db)


@pytest.fixture()
def bob(platform: Any, db: Any) -> Principal:
    return insert_user(db)


@pytest.fixture()
def zhipu(platform: Any) -> Iterator[ZhipuFake]:
    with chat_uses_zhipu_fake() as fake:
        yield fake


def call(method: str, path: str, user: Principal | None, body: Any = None, **kw: Any) -> Any:
    timeout_s = kw.pop("timeout_s", 29)
    return invoke(rest_event(method, path, user=user, body=body, **kw), timeout_s=timeout_s)


def new_conversation(user: Principal, **fields: Any) -> dict[str, Any]:
    resp = call("POST", CONVERSATIONS, user, {"title": "Orders", **fields})
    assert resp.status_code == 201, resp.text
    return resp.json()


def chat(user: Principal, conversation_id: str, message: str, **kw: Any) -> Any:
    return call("POST", f"{CONVERSATIONS}/{conversation_id}/chat", user, {"message": message}, **kw)


def messages_of(user: Principal, conversation_id: str) -> list[dict[str, Any]]:
    resp = call("GET", f"{CONVERSATIONS}/{conversation_id}/messages", user)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def ledger(db: Any, user: Principal) -> list[dict[str, Any]]:
    return db.execute(
        """SELECT model, requests, cached_requests, total_tokens, cost
             FROM usage_ledger WHERE user_id = %s ORDER BY model""",
        (user.id,),
    ).fetchall()


# --------------------------------------------------------------------------- conversations


def test_conversation_crud_round_trip_keeps_every_field(alice: Principal) -> None:
    # Given a conversation created with every field
    created = new_conversation(
        alice,
        conversation_type="support",
        system_prompt="Answer as the support desk.",
        model="glm-4",
        metadata={"channel": "web", "tags": ["vip"]},
    )
    assert created["conversation_type"] == "support" and created["status"] == "active"
    assert created["model"] == "glm-4" and created["system_prompt"] == "Answer as the support desk."
    assert created["metadata"] == {"channel": "web", "tags": ["vip"]}
    assert created["knowledge_base_id"] is None and created["message_count"] == 0
    assert {"id", "created_at", "updated_at"} <= created.keys()

    # When it is read, then partially updated
    path = f"{CONVERSATIONS}/{created['id']}"
    assert call("GET", path, alice).json() == created
    updated = call("PUT", path, alice, {"status": "completed", "title": "Done", "system_prompt": None}).json()

    # Then only the given fields changed (null cleared the system prompt)
    assert updated["status"] == "completed" and updated["title"] == "Done" and updated["system_prompt"] is None
    assert updated["conversation_type"] == "support" and updated["model"] == "glm-4"

    # And deleting it makes it unknown
    assert call("DELETE", path, alice).status_code == 204
    assert call("GET", path, alice).status_code == 404


def test_new_conversation_gets_the_configured_default_model(alice: Principal, db: Any) -> None:
    with config_value(db, "ai.default_model", "glm-4-air"):
        assert new_conversation(alice)["model"] == "glm-4-air"
    assert new_conversation(alice)["model"] == "glm-4-flash"


def test_conversation_list_is_paginated_and_filtered(alice: Principal) -> None:
    ids = {new_conversation(alice, title=f"c{i}")["id"] for i in range(3)}
    new_conversation(alice, conversation_type="consulting")

    first = call("GET", CONVERSATIONS, alice, query={"limit": "2", "conversation_type": "chat"}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = call(
        "GET", CONVERSATIONS, alice, query={"limit": "2", "conversation_type": "chat", "cursor": first["next_cursor"]}
    ).json()
    assert second["next_cursor"] is None
    assert {c["id"] for c in first["items"] + second["items"]} == ids


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "", {"conversation_type": "sales"}),
        ("POST", "", {"model": "glm 4; drop table"}),
        ("POST", "", {"knowledge_base_id": "not-a-uuid"}),
        ("PUT", "/{id}", {"status": "deleted"}),
        ("POST", "/{id}/chat", {"message": ""}),
        ("POST", "/{id}/chat", {"message": "   \n "}),
        ("POST", "/{id}/chat", {"message": "字" * 8001}),
        ("POST", "/{id}/chat", {"message": "hi", "top_k": 0}),
        ("POST", "/{id}/messages", {"content": "x", "role": "tool"}),
        ("GET", "/{id}/messages?cursor", None),
    ],
)
def test_bad_input_is_422_problem_json(alice: Principal, method: str, suffix: str, body: Any) -> None:
    conversation = new_conversation(alice)
    query = None
    if suffix.endswith("?cursor"):
        suffix, query = suffix.removesuffix("?cursor"), {"cursor": "!!not-a-cursor"}
    resp = call(method, CONVERSATIONS + suffix.format(id=conversation["id"]), alice, body, query=query)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    # Plain text for API Gateway: a base64 body would reach clients as base64 (not a binary media type)
    assert resp.raw["isBase64Encoded"] is False
    assert resp.json()["status"] == 422
    # Nothing was stored by a refused chat
    assert call("GET", f"{CONVERSATIONS}/{conversation['id']}", alice).json()["message_count"] == 0


def test_without_authorizer_context_the_function_answers_401(platform: Any) -> None:
    resp = call("GET", CONVERSATIONS, None)
    assert resp.status_code == 401
    assert resp.headers["content-type"] == "application/problem+json"


# --------------------------------------------------------------------------- isolation


def test_another_users_conversation_is_404_everywhere_and_never_listed(alice: Principal, bob: Principal) -> None:
    # Given Alice's conversation with a message
    conversation = new_conversation(alice)
    assert chat(alice, conversation["id"], "Where is my parcel?").status_code == 200
    path = f"{CONVERSATIONS}/{conversation['id']}"

    # Then for Bob it does not exist, whatever he tries
    for method, suffix, body in [
        ("GET", "", None),
        ("PUT", "", {"title": "mine now"}),
        ("DELETE", "", None),
        ("GET", "/messages", None),
        ("POST", "/messages", {"content": "injected"}),
        ("POST", "/chat", {"message": "tell me her secrets"}),
    ]:
        resp = call(method, path + suffix, bob, body)
        assert resp.status_code == 404, (method, suffix, resp.text)
        assert resp.json()["detail"] == "Conversation not found."
    # And a malformed id is the same 404, not an error
    assert call("GET", f"{CONVERSATIONS}/1234", bob).json()["detail"] == "Conversation not found."
    # And Bob's list does not show it; Alice's conversation is untouched
    assert conversation["id"] not in {c["id"] for c in call("GET", CONVERSATIONS, bob).json()["items"]}
    mine = call("GET", path, alice).json()
    assert mine["title"] == "Orders" and mine["message_count"] == 2


def test_a_conversation_cannot_be_attached_to_another_users_knowledge_base(
    alice: Principal, bob: Principal, db: Any
) -> None:
    kb = db.execute(
        "INSERT INTO knowledge_bases (owner_id, name) VALUES (%s, 'private') RETURNING id::text AS id", (bob.id,)
    ).fetchone()["id"]
    resp = call("POST", CONVERSATIONS, alice, {"knowledge_base_id": kb})
    assert resp.status_code == 404
    assert resp.json()["detail"] == "Knowledge base not found."

    # Nor later: an id in a PUT body is checked like one in a path (404, never stored, never a 500).
    mine = new_conversation(alice)
    for kb_id in (kb, "00000000-0000-4000-8000-000000000000"):
        resp = call("PUT", f"{CONVERSATIONS}/{mine['id']}", alice, {"knowledge_base_id": kb_id})
        assert resp.status_code == 404, resp.text
        assert resp.json()["detail"] == "Knowledge base not found."
    assert call("GET", f"{CONVERSATIONS}/{mine['id']}", alice).json()["knowledge_base_id"] is None


# --------------------------------------------------------------------------- chat


def test_offline_chat_stores_both_messages_and_lists_them_with_tokens(alice: Principal, db: Any) -> None:
    # Given a conversation (no ZHIPUAI_API_KEY: the offline provider answers)
    conversation = new_conversation(alice)

    # When the user chats
    resp = chat(alice, conversation["id"], "When will my order ship?")

    # Then the answer names the offline provider and costs nothing
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["model"] == "offline-extractive" and body["cached"] is False
    assert "No language model is configured" in body["content"]
    assert body["sources"] == []
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["cost"] == 0
    # And both messages are stored, in order, with tokens
    user_msg, reply = messages_of(alice, conversation["id"])
    assert (user_msg["id"], user_msg["role"], user_msg["status"]) == (body["user_message_id"], "user", "ok")
    assert user_msg["content"] == "When will my order ship?"
    assert (reply["id"], reply["role"], reply["content"]) == (body["message_id"], "assistant", body["content"])
    assert reply["tokens"] == usage["total_tokens"] and reply["model"] == "offline-extractive"
    assert call("GET", f"{CONVERSATIONS}/{conversation['id']}", alice).json()["message_count"] == 2
    # And the ledger counted the request
    [row] = ledger(db, alice)
    assert row["model"] == "offline-extractive" and row["requests"] == 1
    assert row["total_tokens"] == usage["total_tokens"]


def test_zhipu_chat_bills_provider_usage_with_history_and_system_prompt(alice: Principal, zhipu: ZhipuFake) -> None:
    # Given a glm-4 conversation with its own system prompt
    conversation = new_conversation(alice, model="glm-4", system_prompt="You are the order desk.")

    # When two questions are asked
    first = chat(alice, conversation["id"], "Where is order 42?")
    second = chat(alice, conversation["id"], "And order 43?")

    # Then the model saw the system prompt, then the history, then the new question
    assert first.status_code == 200 and second.status_code == 200, second.text
    requests = zhipu.requests_to(CHAT_PATH)
    assert len(requests) == 2
    sent = requests[1].body
    assert sent["model"] == "glm-4"
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["messages"][0]["content"] == "You are the order desk."
    assert sent["messages"][2]["content"] == first.json()["content"]
    assert second.json()["content"] == ZhipuFake.reply_for(sent)
    # And the stored reply carries the provider's usage and the price table's cost
    reply = messages_of(alice, conversation["id"])[-1]
    usage = second.json()["usage"]
    expected_prompt = sum(ZhipuFake.tokens_of(m["content"]) for m in sent["messages"])
    assert usage["prompt_tokens"] == expected_prompt == reply["prompt_tokens"]
    expected_cost = cost_for("glm-4", Usage.of(usage["prompt_tokens"], usage["completion_tokens"]))
    assert Decimal(str(usage["cost"])) == expected_cost > 0
    assert reply["cost"] == usage["cost"] and reply["latency_ms"] >= 0


def test_configured_prices_apply(alice: Principal, zhipu: ZhipuFake, db: Any) -> None:
    conversation = new_conversation(alice, model="glm-4")
    with config_value(db, "ai.pricing", {"glm-4": {"input": 1, "output": 2}}):
        usage = chat(alice, conversation["id"], "price check").json()["usage"]
    expected = (Decimal(usage["prompt_tokens"]) * 1 + Decimal(usage["completion_tokens"]) * 2) / 1000
    assert Decimal(str(usage["cost"])) == expected.quantize(Decimal("0.000001"))


def test_identical_question_is_answered_from_the_cache_without_calling_the_model(
    alice: Principal, zhipu: ZhipuFake, db: Any
) -> None:
    # Given a question answered once by the model in a new conversation
    question = f"What are your opening hours? {zhipu.port}"
    first = chat(alice, new_conversation(alice, model="glm-4")["id"], question).json()
    assert first["cached"] is False and first["usage"]["cost"] > 0

    # When the same question starts another conversation with the same model and prompt
    other = new_conversation(alice, model="glm-4")
    again = chat(alice, other["id"], question)

    # Then the answer comes from the cache: same text, not billed, the fake saw one request only
    assert again.status_code == 200
    body = again.json()
    assert body["cached"] is True and body["content"] == first["content"] and body["model"] == first["model"]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cost": 0}
    assert len(zhipu.requests_to(CHAT_PATH)) == 1
    reply = messages_of(alice, other["id"])[-1]
    assert reply["cached"] is True and reply["cost"] == 0
    [row] = ledger(db, alice)
    assert (row["requests"], row["cached_requests"]) == (2, 1)
    assert row["total_tokens"] == first["usage"]["total_tokens"]

    # And a follow-up in a conversation with different history is not a cache hit
    chat(alice, other["id"], question)
    assert len(zhipu.requests_to(CHAT_PATH)) == 2


def test_quota_exceeded_is_429_before_the_model_is_called(alice: Principal, zhipu: ZhipuFake, db: Any) -> None:
    # Given a free user who spent the tier's 100k tokens this month
    db.execute(
        """INSERT INTO usage_ledger (user_id, day, model, requests, total_tokens, prompt_tokens)
           VALUES (%s, (now() AT TIME ZONE 'UTC')::date, 'glm-4', 10, 100000, 100000)""",
        (alice.id,),
    )
    conversation = new_conversation(alice, model="glm-4")

    # When they chat
    resp = chat(alice, conversation["id"], "one more question")

    # Then 429 with its own problem type and a Retry-After, and Zhipu was never called
    assert resp.status_code == 429, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    problem = resp.json()
    assert problem["type"] == QUOTA_TYPE and problem["used_tokens"] == 100000 and problem["quota_tokens"] == 100000
    assert int(resp.headers["retry-after"]) > 0
    assert zhipu.requests_to(CHAT_PATH) == []
    # And the question is kept, marked failed, with no answer
    [question] = messages_of(alice, conversation["id"])
    assert (question["status"], question["error"]) == ("failed", "quota-exceeded")
    # And the usage report shows the quota used up
    quota = call("GET", "/api/v1/usage", alice).json()["quota"]
    assert quota == {**quota, "tier": "free", "monthly_tokens": 100000, "used_tokens": 100000, "remaining_tokens": 0}


def test_quota_per_tier_comes_from_config(alice: Principal, db: Any) -> None:
    conversation = new_conversation(alice)
    with config_value(db, "ai.quota.monthly_tokens", {"free": 1}):
        assert chat(alice, conversation["id"], "first").status_code == 200
        assert chat(alice, conversation["id"], "second").status_code == 429


@pytest.mark.parametrize(
    ("script", "status", "slug"),
    [
        ({"status": 429, "code": "1302", "times": 3}, 503, "upstream-unavailable"),
        ({"status": 500, "code": "500", "times": 3}, 503, "upstream-unavailable"),
        ({"status": 401, "code": "1000"}, 502, "upstream-error"),
    ],
)
def test_provider_failures_map_to_problems_and_keep_the_question(
    alice: Principal, zhipu: ZhipuFake, db: Any, script: dict[str, Any], status: int, slug: str
) -> None:
    # Given Zhipu fails every attempt
    conversation = new_conversation(alice, model="glm-4")
    zhipu.fail_next(path=CHAT_PATH, **script)

    # When the user chats
    resp = chat(alice, conversation["id"], "Is anyone there?")

    # Then the failure is a clear problem (503 with Retry-After when retrying later may work)
    assert resp.status_code == status, resp.text
    assert resp.json()["type"].endswith(slug)
    assert zhipu.api_key not in resp.text
    if status == 503:
        assert int(resp.headers["retry-after"]) >= 1
    # And exactly the question is stored, marked failed; no assistant message, nothing billed
    [question] = messages_of(alice, conversation["id"])
    assert (question["role"], question["content"], question["status"]) == ("user", "Is anyone there?", "failed")
    assert question["error"] == slug
    assert ledger(db, alice) == []
    assert call("GET", f"{CONVERSATIONS}/{conversation['id']}", alice).json()["message_count"] == 1

    # And once Zhipu is back the next question is answered, without the failed one in the history
    ok = chat(alice, conversation["id"], "Hello again")
    assert ok.status_code == 200
    sent = zhipu.requests_to(CHAT_PATH)[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user"] and sent[-1]["content"] == "Hello again"


def test_a_slow_model_is_504_within_the_lambda_time_limit(alice: Principal, zhipu: ZhipuFake) -> None:
    # Given Zhipu answers after 6 s and the invocation has 5 s left
    conversation = new_conversation(alice, model="glm-4")
    zhipu.delay_next(6, times=3, path=CHAT_PATH)

    # When the user chats
    resp = chat(alice, conversation["id"], "Are you slow today?", timeout_s=5)

    # Then the function gives up in time with 504 and keeps the question as failed
    assert resp.status_code == 504, resp.text
    assert resp.json()["type"].endswith("upstream-timeout")
    [question] = messages_of(alice, conversation["id"])
    assert (question["status"], question["error"]) == ("failed", "upstream-timeout")


def test_an_archived_conversation_refuses_new_questions(alice: Principal) -> None:
    conversation = new_conversation(alice)
    call("PUT", f"{CONVERSATIONS}/{conversation['id']}", alice, {"status": "archived"})
    resp = chat(alice, conversation["id"], "hello?")
    assert resp.status_code == 409
    assert messages_of(alice, conversation["id"]) == []


# --------------------------------------------------------------------------- messages and usage


def test_stored_messages_are_paginated_oldest_first(alice: Principal) -> None:
    conversation = new_conversation(alice)
    path = f"{CONVERSATIONS}/{conversation['id']}/messages"
    for n in range(3):
        resp = call("POST", path, alice, {"content": f"note {n}", "role": "user"})
        assert resp.status_code == 201
    # Only the service writes system and assistant messages.
    for role in ("assistant", "system"):
        resp = call("POST", path, alice, {"content": "I am the assistant now", "role": role})
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "role"]
    page = call("GET", path, alice, query={"limit": "2"}).json()
    assert [m["content"] for m in page["items"]] == ["note 0", "note 1"]
    rest = call("GET", path, alice, query={"limit": "2", "cursor": page["next_cursor"]}).json()
    assert [m["content"] for m in rest["items"]] == ["note 2"] and rest["next_cursor"] is None
    assert call("GET", path, alice, query={"limit": "101"}).status_code == 422


def test_usage_is_aggregated_by_day_and_model_and_admins_may_read_anyones(
    alice: Principal, db: Any, zhipu: ZhipuFake
) -> None:
    # Given Alice chatted with two models
    for model in ("glm-4", "glm-4-air"):
        assert chat(alice, new_conversation(alice, model=model)["id"], f"hello {model}").status_code == 200

    # When she reads her usage
    report = call("GET", "/api/v1/usage", alice).json()

    # Then one row per day and model, with totals that add up
    assert report["user_id"] == alice.id
    assert sorted(r["model"] for r in report["items"]) == ["glm-4", "glm-4-air"]
    assert report["totals"]["requests"] == 2
    assert report["totals"]["total_tokens"] == sum(r["total_tokens"] for r in report["items"]) > 0
    assert report["quota"]["used_tokens"] == report["totals"]["total_tokens"]

    # And another user may not read it, an admin may
    other = insert_user(db)
    assert call("GET", "/api/v1/usage", other, query={"user_id": alice.id}).status_code == 403
    admin = insert_user(db, role="admin")
    assert call("GET", "/api/v1/usage", admin, query={"user_id": alice.id}).json()["items"] == report["items"]
    # And a date range with nothing in it is empty; a reversed range is 422
    past = call("GET", "/api/v1/usage", alice, query={"start": "2020-01-01", "end": "2020-01-31"}).json()
    assert past["items"] == [] and past["totals"]["total_tokens"] == 0
    assert call("GET", "/api/v1/usage", alice, query={"start": "2020-02-01", "end": "2020-01-01"}).status_code == 422


def test_openapi_document_is_published(platform: Any) -> None:
    resp = call("GET", "/api/v1/openapi/chat.json", None)
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    assert {"/api/v1/conversations", "/api/v1/conversations/{conversation_id}/chat", "/api/v1/usage"} <= paths.keys()
