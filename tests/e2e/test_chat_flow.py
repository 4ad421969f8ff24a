"""Chat through the local gateway: register, converse, read messages and usage, as a client does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.auth_helpers import new_user
from tests.chat_support import chat_uses_zhipu_fake
from tests.fakes.zhipu_fake import ZhipuFake

API = "/api/v1"


def _flow(api: Any, user: Any, model: str | None, question: str) -> tuple[dict, dict, list[dict]]:
    created = api.post(f"{API}/conversations", json={"title": "Shipping", "model": model}, headers=user.headers)
    assert created.status_code == 201, created.text
    conversation = created.json()
    answered = api.post(
        f"{API}/conversations/{conversation['id']}/chat", json={"message": question}, headers=user.headers
    )
    assert answered.status_code == 200, answered.text
    assert answered.headers["x-request-id"]
    listed = api.get(f"{API}/conversations/{conversation['id']}/messages", headers=user.headers)
    assert listed.status_code == 200
    return conversation, answered.json(), listed.json()["items"]


def test_full_flow_with_the_offline_provider(api: Any) -> None:
    # Given a registered user
    alice = new_user(api)

    # When she creates a conversation, chats and lists the messages
    _, answer, items = _flow(api, alice, None, "How long does shipping take?")

    # Then the offline provider answered, and both messages are listed with tokens and cost
    assert answer["model"] == "offline-extractive" and answer["cached"] is False
    assert [m["role"] for m in items] == ["user", "assistant"]
    assert items[1]["tokens"] == answer["usage"]["total_tokens"] > 0 and items[1]["cost"] == 0

    # And her usage shows the request
    usage = api.get(f"{API}/usage", headers=alice.headers).json()
    assert [(r["model"], r["requests"]) for r in usage["items"]] == [("offline-extractive", 1)]
    assert usage["quota"]["tier"] == "free" and usage["quota"]["monthly_tokens"] == 100000


def test_full_flow_with_zhipu_bills_tokens_and_cost(api: Any) -> None:
    alice = new_user(api, tier="pro")
    with chat_uses_zhipu_fake() as zhipu:
        _, answer, items = _flow(api, alice, "glm-4", "我的订单什么时候发货？")
        [request] = zhipu.requests_to("/chat/completions")

    assert answer["model"] == "glm-4" and answer["content"] == ZhipuFake.reply_for(request.body)
    assert Decimal(str(answer["usage"]["cost"])) > 0
    assert items[1]["cost"] == answer["usage"]["cost"]
    assert items[1]["prompt_tokens"] == answer["usage"]["prompt_tokens"]

    usage = api.get(f"{API}/usage", headers=alice.headers).json()
    assert usage["totals"]["cost"] == answer["usage"]["cost"]
    assert usage["quota"] == {**usage["quota"], "tier": "pro", "monthly_tokens": 2_000_000}
    assert usage["quota"]["used_tokens"] == answer["usage"]["total_tokens"]


def test_other_users_conversations_are_404_through_the_gateway(api: Any) -> None:
    alice, bob = new_user(api), new_user(api)
    conversation, _, _ = _flow(api, alice, None, "private question")
    base = f"{API}/conversations/{conversation['id']}"

    assert api.get(base, headers=bob.headers).status_code == 404
    assert api.get(f"{base}/messages", headers=bob.headers).status_code == 404
    resp = api.post(f"{base}/chat", json={"message": "hi"}, headers=bob.headers)
    assert resp.status_code == 404 and resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["detail"] == "Conversation not found."
    assert api.get(f"{API}/conversations", headers=bob.headers).json()["items"] == []
    # Usage of another user is for admins only
    assert api.get(f"{API}/usage", params={"user_id": alice.id}, headers=bob.headers).status_code == 403
    admin = new_user(api, admin=True)
    assert api.get(f"{API}/usage", params={"user_id": alice.id}, headers=admin.headers).status_code == 200
