"""Streaming answers through the local WebSocket API (``ws://…/ws?token=``), as a client sees them.

The gateway runs the $connect authorizer, invokes the chat function with real WebSocket
events and serves the management API the function posts frames to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from claw_local.template import ROOT
from tests.auth_helpers import new_user
from tests.chat_support import chat_uses_zhipu_fake
from tests.fakes.zhipu_fake import ZhipuFake
from tests.ws_support import (
    create_conversation,
    function_log_records,
    messages_of,
    receive_answer,
    text_of,
    ws_url,
)

# Long enough that the fake's reply (which quotes up to 80 characters of it) spans several frames.
LONG_QUESTION = "Please explain, step by step, how your shipping and returns work for orders sent abroad."


def test_a_streamed_answer_is_the_stored_answer(platform: Any, api: Any) -> None:
    # Given a user with a conversation answered by GLM (the Zhipu fake)
    alice = new_user(api, tier="pro")
    conversation = create_conversation(api, alice, model="glm-4")

    with chat_uses_zhipu_fake() as zhipu, connect(ws_url(platform, alice.access_token)) as ws:
        # When she asks over the WebSocket
        ws.send(json.dumps({"action": "chat", "conversation_id": conversation["id"], "message": LONG_QUESTION}))
        frames = receive_answer(ws)
        [request] = zhipu.requests_to("/chat/completions")

    # Then several deltas arrive, then sources, then done, and the function streamed from Zhipu
    kinds = [f["type"] for f in frames]
    assert kinds.count("delta") >= 2, kinds
    assert kinds[-2:] == ["sources", "done"] and set(kinds[:-2]) == {"delta"}
    assert request.body["stream"] is True
    text = text_of(frames)
    assert text == ZhipuFake.reply_for(request.body)

    # And the deltas are exactly the stored assistant message, billed as the done frame says
    done = frames[-1]
    stored = messages_of(api, alice, conversation["id"])
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[0]["content"] == LONG_QUESTION and stored[0]["status"] == "ok"
    assert stored[1]["id"] == done["message_id"] and stored[1]["content"] == text
    assert done["model"] == "glm-4" and done["cached"] is False
    usage = done["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert stored[1]["prompt_tokens"] == usage["prompt_tokens"]
    assert stored[1]["completion_tokens"] == usage["completion_tokens"]
    assert stored[1]["cost"] == usage["cost"] > 0
    assert frames[-2]["sources"] == []
    ledger = api.get("/api/v1/usage", headers=alice.headers).json()
    assert ledger["totals"]["total_tokens"] == usage["total_tokens"]


def test_the_offline_provider_and_the_cache_stream_too(platform: Any, api: Any) -> None:
    # Given a user without a language model (the offline provider answers)
    bob = new_user(api)
    first, second = create_conversation(api, bob), create_conversation(api, bob)

    with connect(ws_url(platform, bob.access_token)) as ws:
        # When he asks the same first question in two conversations
        answers = []
        for conversation in (first, second):
            ws.send(json.dumps({"action": "chat", "conversation_id": conversation["id"], "message": "What is CLAW?"}))
            answers.append(receive_answer(ws))

    # Then both answers stream in pieces; the second comes from the answer cache, free of charge
    fresh, cached = answers
    assert fresh[-1]["type"] == cached[-1]["type"] == "done"
    assert fresh[-1]["model"] == "offline-extractive" and fresh[-1]["cached"] is False
    assert cached[-1]["cached"] is True and cached[-1]["usage"]["total_tokens"] == 0
    assert [f["type"] for f in cached].count("delta") >= 2
    assert text_of(cached) == text_of(fresh)
    assert messages_of(api, bob, second["id"])[1]["content"] == text_of(cached)


@pytest.mark.parametrize("token", [None, "", "forged.jwt.token", "claw_sk_0000000000000000000000000000"])
def test_connecting_without_a_valid_token_is_refused(platform: Any, token: str | None) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(platform, token), open_timeout=10)
    assert refused.value.response.status_code == 403


def test_a_forged_signature_is_refused(platform: Any, api: Any) -> None:
    # A real token of a real user with its signature replaced
    alice = new_user(api)
    header, payload, _ = alice.access_token.split(".")
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(platform, f"{header}.{payload}.c2lnbmF0dXJl"), open_timeout=10)
    assert refused.value.response.status_code == 403


def test_another_users_conversation_is_404(platform: Any, api: Any) -> None:
    # Given Alice's conversation
    alice, mallory = new_user(api), new_user(api)
    conversation = create_conversation(api, alice)

    # When Mallory asks in it over her own connection
    with connect(ws_url(platform, mallory.access_token)) as ws:
        ws.send(json.dumps({"action": "chat", "conversation_id": conversation["id"], "message": "show me"}))
        frames = receive_answer(ws)

    # Then she gets a 404 exactly like a missing conversation, and nothing was stored in Alice's
    [error] = frames
    assert error["type"] == "error" and error["status"] == 404
    assert error["title"] == "Not Found" and error["detail"] == "Conversation not found."
    assert messages_of(api, alice, conversation["id"]) == []


def test_a_malformed_frame_is_422_and_the_connection_stays_usable(platform: Any, api: Any) -> None:
    alice = new_user(api)
    conversation = create_conversation(api, alice)

    with connect(ws_url(platform, alice.access_token)) as ws:
        # A chat frame with a blank message, one that is not JSON, and an unknown action
        ws.send(json.dumps({"action": "chat", "conversation_id": conversation["id"], "message": "   "}))
        [blank] = receive_answer(ws)
        ws.send("this is not json")
        [not_json] = receive_answer(ws)
        ws.send(json.dumps({"action": "shout", "message": "hi"}))
        [unknown] = receive_answer(ws)

        # Then each is a 422 error frame
        assert blank["status"] == not_json["status"] == unknown["status"] == 422
        assert blank["type"] == "error" and blank["errors"][0]["loc"] == ["message"]
        assert "unknown action" in unknown["detail"].lower()

        # And a valid chat on the same connection still works
        ws.send(json.dumps({"action": "chat", "conversation_id": conversation["id"], "message": "Hello?"}))
        frames = receive_answer(ws)
    assert frames[-1]["type"] == "done"
    assert [m["role"] for m in messages_of(api, alice, conversation["id"])] == ["user", "assistant"]


def test_a_client_leaving_mid_answer_still_gets_its_answer_stored(platform: Any, api: Any, db: Any) -> None:
    # Given a slow stream: Zhipu stalls after its first two pieces
    carol = new_user(api, tier="pro")
    conversation = create_conversation(api, carol, model="glm-4")
    with chat_uses_zhipu_fake() as zhipu, function_log_records() as records:
        zhipu.delay_next(1.5, after_chunks=2)
        ws = connect(ws_url(platform, carol.access_token))
        ws.send(json.dumps({"action": "chat", "conversation_id": conversation["id"], "message": LONG_QUESTION}))

        # When the client closes the connection after the first delta
        first = json.loads(ws.recv(timeout=20))
        ws.close()

        # Then the function finishes the answer: stored and billed (reading waits for the function)
        def stored() -> list[dict[str, Any]]:
            items = messages_of(api, carol, conversation["id"])
            return items if len(items) == 2 else []

        deadline = time.monotonic() + 30
        items = stored()
        while not items and time.monotonic() < deadline:
            time.sleep(0.2)
            items = stored()
        [request] = zhipu.requests_to("/chat/completions")

    assert first["type"] == "delta" and ZhipuFake.reply_for(request.body).startswith(first["text"])
    assert [m["role"] for m in items] == ["user", "assistant"], items
    assert items[1]["content"] == ZhipuFake.reply_for(request.body)
    assert items[1]["cost"] > 0 and items[0]["status"] == "ok"
    usage = api.get("/api/v1/usage", headers=carol.headers).json()
    assert usage["totals"]["total_tokens"] == items[1]["tokens"]

    # And nothing failed in the function or the runtime; the connection row is gone
    assert [r.getMessage() for r in records if r.levelno >= 40] == []
    assert db.execute("SELECT count(*) AS n FROM ws_connections WHERE user_id = %s", (carol.id,)).fetchone()["n"] == 0


def _ws_chat(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command-line client as a user would, in its own process."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ws_chat.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def test_the_command_line_client_prints_the_answer_as_it_streams(platform: Any, api: Any) -> None:
    dave = new_user(api)
    conversation = create_conversation(api, dave)
    url = ws_url(platform)

    # When the documented command runs
    run = _ws_chat("--url", url, "--token", dave.access_token, "--conversation", conversation["id"], "Hi?")

    # Then it prints the stored answer, and the usage line on stderr
    assert run.returncode == 0, run.stderr
    [_, answer] = messages_of(api, dave, conversation["id"])
    assert answer["content"] in run.stdout
    assert "offline-extractive" in run.stderr and answer["id"] in run.stderr

    # And a bad token or another user's conversation fail with a clear message and status
    refused = _ws_chat("--url", url, "--token", "nope", "--conversation", conversation["id"], "Hi?")
    assert refused.returncode == 2 and "refused (HTTP 403)" in refused.stderr
    eve = new_user(api)
    other = _ws_chat("--url", url, "--token", eve.access_token, "--conversation", conversation["id"], "x")
    assert other.returncode == 1 and "error 404 Not Found: Conversation not found." in other.stderr
