"""Visitors' streamed answers over the local WebSocket API (``?token=<session token>``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.assistant_helpers import API, SHOP, create_assistant, knowledge_base_with, session_token
from tests.auth_helpers import new_user
from tests.knowledge_helpers import create_kb
from tests.ws_support import receive_answer, text_of, ws_url


def test_a_visitor_streams_a_cited_answer_and_nothing_else(api: Any, db: Any, platform: Any) -> None:
    # Given a published assistant and a visitor session from the shop
    owner = new_user(api)
    assistant = create_assistant(
        api, owner, knowledge_base_ids=[knowledge_base_with(api, db, owner)], allowed_origins=[SHOP]
    )
    token = session_token(api, assistant["public_id"])

    with connect(ws_url(platform, token), origin=SHOP) as ws:  # type: ignore[arg-type]
        # When the visitor asks over the WebSocket
        ws.send(json.dumps({"action": "visitor_chat", "message": "How many days do I have to return an item?"}))
        frames = receive_answer(ws)

        # Then deltas, sources and done arrive, as in account holders' chat
        kinds = [f["type"] for f in frames]
        assert kinds[-2:] == ["sources", "done"] and set(kinds[:-2]) == {"delta"}, kinds
        done = frames[-1]
        assert done["no_answer"] is False and done["limited"] is None
        assert frames[-2]["sources"][0]["title"] == "Returns"
        text = text_of(frames)
        assert "30 days" in text

        # And the chat action of account holders is refused on this connection
        ws.send(json.dumps({"action": "chat", "conversation_id": done["conversation_id"], "message": "Hi"}))
        [error] = receive_answer(ws)
        assert error["type"] == "error" and error["status"] == 401

    # And the owner sees the streamed answer exactly
    messages = api.get(
        f"{API}/assistants/{assistant['id']}/conversations/{done['conversation_id']}/messages", headers=owner.headers
    ).json()["items"]
    assert [m["content"] for m in messages][1] == text
    assert messages[1]["id"] == done["message_id"]


def test_no_answer_streams_with_the_flag(api: Any, platform: Any) -> None:
    owner = new_user(api)
    assistant = create_assistant(
        api, owner, knowledge_base_ids=[create_kb(api, owner, name="Empty")], no_answer_message="Ask our staff."
    )
    with connect(ws_url(platform, session_token(api, assistant["public_id"], origin=None))) as ws:
        ws.send(json.dumps({"action": "visitor_chat", "message": "Anything?"}))
        frames = receive_answer(ws)
    assert text_of(frames) == "Ask our staff."
    assert frames[-1]["type"] == "done" and frames[-1]["no_answer"] is True
    assert frames[-2] == {"type": "sources", "sources": []}


def test_a_visitor_token_from_another_origin_cannot_connect(api: Any, platform: Any) -> None:
    owner = new_user(api)
    assistant = create_assistant(api, owner, allowed_origins=[SHOP])
    token = session_token(api, assistant["public_id"])
    with pytest.raises(InvalidStatus), connect(ws_url(platform, token), origin="https://evil.example.net"):  # type: ignore[arg-type]
        pass


def test_an_account_holders_connection_cannot_use_visitor_chat(api: Any, platform: Any) -> None:
    user = new_user(api)
    with connect(ws_url(platform, user.access_token)) as ws:
        ws.send(json.dumps({"action": "visitor_chat", "message": "Hi"}))
        [error] = receive_answer(ws)
    assert error["type"] == "error" and error["status"] == 401
