"""Conversation lists are served cache-aside and every change of the user's conversations drops them."""

from __future__ import annotations

from typing import Any

from tests.chat_support import Reply, insert_user, rest_event
from tests.integration.test_metrics_emf import _emf


def _list(platform: Any, user: Any) -> dict[str, Any]:
    reply = Reply(platform.lambdas["ChatFunction"].invoke(rest_event("GET", "/api/v1/conversations", user=user)))
    assert reply.status_code == 200, reply.text
    return reply.json()


def _cache_events(text: str) -> list[str]:
    return [m["name"] for m in _emf(text) if m["dimensions"].get("cache") == "conversation_list"]


def test_list_is_cached_and_each_write_invalidates_it(platform: Any, db: Any, capfd: Any) -> None:
    user = insert_user(db)
    chat = platform.lambdas["ChatFunction"]
    first = Reply(chat.invoke(rest_event("POST", "/api/v1/conversations", user=user, body={"title": "one"}))).json()

    # Given a listed page (a miss), listing again is a hit with the same content
    capfd.readouterr()
    assert [c["id"] for c in _list(platform, user)["items"]] == [first["id"]]
    assert [c["id"] for c in _list(platform, user)["items"]] == [first["id"]]
    assert _cache_events(capfd.readouterr().out) == ["CacheMiss", "CacheHit"]

    # When the user creates, renames, adds a message to or deletes a conversation,
    # Then the next list shows it at once
    second = Reply(chat.invoke(rest_event("POST", "/api/v1/conversations", user=user, body={"title": "two"}))).json()
    assert [c["id"] for c in _list(platform, user)["items"]] == [second["id"], first["id"]]
    chat.invoke(rest_event("PUT", f"/api/v1/conversations/{first['id']}", user=user, body={"title": "renamed"}))
    assert _list(platform, user)["items"][0]["title"] == "renamed"
    chat.invoke(
        rest_event("POST", f"/api/v1/conversations/{second['id']}/messages", user=user, body={"content": "note"})
    )
    page = _list(platform, user)["items"]
    assert page[0]["id"] == second["id"] and page[0]["message_count"] == 1
    chat.invoke(rest_event("DELETE", f"/api/v1/conversations/{second['id']}", user=user))
    assert [c["id"] for c in _list(platform, user)["items"]] == [first["id"]]


def test_another_users_cached_list_is_never_served(platform: Any, db: Any) -> None:
    alice, bob = insert_user(db), insert_user(db)
    chat = platform.lambdas["ChatFunction"]
    chat.invoke(rest_event("POST", "/api/v1/conversations", user=alice, body={"title": "alice's"}))
    assert len(_list(platform, alice)["items"]) == 1
    assert _list(platform, bob)["items"] == []
