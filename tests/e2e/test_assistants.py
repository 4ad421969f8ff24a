"""Assistants through the local gateway: an owner publishes one, a visitor of the owner's
website chats with it, and the owner reads what was asked."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

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

QUESTION = "How many days do I have to return an item for a refund?"


def test_publish_chat_feedback_and_the_owner_sees_it_all(api: Any, db: Any) -> None:
    # Given an owner whose assistant answers from a returns policy, embeddable on the shop only
    owner = new_user(api, tier="pro")
    kb_id = knowledge_base_with(api, db, owner)
    assistant = create_assistant(
        api,
        owner,
        knowledge_base_ids=[kb_id],
        welcome_message="Hi! Ask me about returns.",
        suggested_questions=["How do returns work?"],
        allowed_origins=[SHOP],
    )
    public_id = assistant["public_id"]
    assert public_id.startswith("ast_") and public_id != assistant["id"]
    assert assistant["embed_snippet"] == (
        f'<script src="{api.base_url}/widget.js" data-assistant="{public_id}" data-api="{api.base_url}/api/v1">'
        "</script>"
    )

    # When a visitor of the shop opens a session
    session = start_session(api, public_id)
    assert session.status_code == 201, session.text
    body = session.json()
    assert body["expires_in"] > 0
    assert body["assistant"] == {
        "name": "Shop helper",
        "welcome_message": "Hi! Ask me about returns.",
        "suggested_questions": ["How do returns work?"],
    }
    assert session.headers["access-control-allow-origin"] == SHOP
    token = body["session_token"]

    # And asks a question the policy answers
    answer = ask(api, public_id, token, QUESTION)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == SHOP
    reply = answer.json()
    assert reply["no_answer"] is False and reply["limited"] is None
    assert reply["sources"] and reply["sources"][0]["title"] == "Returns"
    assert "30 days" in reply["content"] and "[1]" in reply["content"]

    # And gives it a thumbs-down with a comment
    rated = api.post(
        f"{API}/public/assistants/{public_id}/feedback",
        json={"message_id": reply["message_id"], "rating": "down", "comment": "I wanted the address"},
        headers=visitor_headers(token),
    )
    assert rated.status_code == 200, rated.text

    # Then the owner lists the conversation with its counts
    listed = api.get(f"{API}/assistants/{assistant['id']}/conversations", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    [conversation] = listed.json()["items"]
    assert conversation["id"] == reply["conversation_id"] == body["conversation_id"]
    assert conversation["origin"] == SHOP and conversation["channel"] == "widget"
    assert (conversation["message_count"], conversation["question_count"]) == (2, 1)
    assert (conversation["feedback_up"], conversation["feedback_down"]) == (0, 1)
    assert conversation["last_message"] == reply["content"][:200]

    # And the filters: thumbs-down finds it, "no answer" does not
    down = api.get(
        f"{API}/assistants/{assistant['id']}/conversations", params={"thumbs_down": "true"}, headers=owner.headers
    )
    assert [c["id"] for c in down.json()["items"]] == [conversation["id"]]
    unanswered = api.get(
        f"{API}/assistants/{assistant['id']}/conversations", params={"no_answer": "true"}, headers=owner.headers
    )
    assert unanswered.json()["items"] == []

    # And reads the question, the answer, its sources and the thumbs-down
    messages = api.get(
        f"{API}/assistants/{assistant['id']}/conversations/{conversation['id']}/messages", headers=owner.headers
    )
    assert messages.status_code == 200, messages.text
    question, answer_row = messages.json()["items"]
    assert question["role"] == "user" and question["content"] == QUESTION
    assert answer_row["role"] == "assistant" and answer_row["content"] == reply["content"]
    assert answer_row["sources"] == reply["sources"]
    assert answer_row["feedback"] == {
        "message_id": reply["message_id"],
        "rating": "down",
        "comment": "I wanted the address",
    }

    # And the stats count it
    stats = api.get(f"{API}/assistants/{assistant['id']}/stats", params={"days": 7}, headers=owner.headers)
    assert stats.status_code == 200, stats.text
    days = stats.json()["days"]
    assert len(days) == 7
    today = days[-1]
    assert (today["conversations"], today["questions"], today["no_answers"]) == (1, 1, 0)
    assert (today["feedback_up"], today["feedback_down"]) == (0, 1)
    assert today["tokens"] > 0 and today["no_answer_rate"] == 0
    assert stats.json()["totals"]["questions"] == 1

    # And the exports contain it
    jsonl = api.get(f"{API}/assistants/{assistant['id']}/export", params={"format": "jsonl"}, headers=owner.headers)
    assert jsonl.status_code == 200 and jsonl.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [r["role"] for r in records] == ["user", "assistant"]
    assert records[0]["content"] == QUESTION
    assert records[1]["feedback"] == "down" and records[1]["sources"][0]["title"] == "Returns"
    exported = api.get(f"{API}/assistants/{assistant['id']}/export", params={"format": "csv"}, headers=owner.headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["content"] for r in rows] == [QUESTION, reply["content"]]
    assert rows[1]["feedback"] == "down"


def test_history_stays_within_the_visitors_session(api: Any, db: Any) -> None:
    # Given one assistant and two visitors
    owner = new_user(api)
    assistant = create_assistant(api, owner, knowledge_base_ids=[knowledge_base_with(api, db, owner)])
    first, second = session_token(api, assistant["public_id"]), session_token(api, assistant["public_id"])

    # When both ask
    a = ask(api, assistant["public_id"], first, QUESTION).json()
    b = ask(api, assistant["public_id"], first, "Who pays the shipping for a return?").json()
    c = ask(api, assistant["public_id"], second, QUESTION).json()

    # Then the first visitor's questions share one conversation, the second has their own
    assert a["conversation_id"] == b["conversation_id"] != c["conversation_id"]
    listed = api.get(f"{API}/assistants/{assistant['id']}/conversations", headers=owner.headers).json()["items"]
    counts = {c["id"]: c["question_count"] for c in listed}
    assert counts == {a["conversation_id"]: 2, c["conversation_id"]: 1}

    # And a visitor can rate only the answers of their own conversation
    foreign = api.post(
        f"{API}/public/assistants/{assistant['public_id']}/feedback",
        json={"message_id": a["message_id"], "rating": "down"},
        headers=visitor_headers(second),
    )
    assert foreign.status_code == 404
    own = api.post(
        f"{API}/public/assistants/{assistant['public_id']}/feedback",
        json={"message_id": c["message_id"], "rating": "up"},
        headers=visitor_headers(second),
    )
    assert own.status_code == 200

    # And the list pages with a cursor
    page = api.get(
        f"{API}/assistants/{assistant['id']}/conversations", params={"limit": 1}, headers=owner.headers
    ).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = api.get(
        f"{API}/assistants/{assistant['id']}/conversations",
        params={"limit": 1, "cursor": page["next_cursor"]},
        headers=owner.headers,
    ).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == set(counts)
    bad = api.get(
        f"{API}/assistants/{assistant['id']}/conversations", params={"cursor": "nonsense"}, headers=owner.headers
    )
    assert bad.status_code == 422
