"""What limits a visitor's questions: the per-visitor rate, the assistant's monthly budget, the
owner's quota, deactivation; and the no-answer policy."""

from __future__ import annotations

from typing import Any

from tests.assistant_helpers import API, ask, create_assistant, knowledge_base_with, session_token
from tests.auth_helpers import new_user
from tests.chat_support import chat_uses_zhipu_fake
from tests.knowledge_helpers import create_kb


def test_the_fourth_message_in_a_minute_is_429_for_that_visitor_only(api: Any) -> None:
    owner = new_user(api)
    assistant = create_assistant(api, owner, visitor_rate_limit_per_minute=3)
    public_id = assistant["public_id"]
    token = session_token(api, public_id)
    for n in range(3):
        assert ask(api, public_id, token, f"Question number {n}?").status_code == 200
    refused = ask(api, public_id, token, "One more?")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["access-control-allow-origin"]  # readable by the widget
    # Another visitor of the same assistant is not affected
    assert ask(api, public_id, session_token(api, public_id), "My first question?").status_code == 200


def test_an_exhausted_budget_answers_politely_without_calling_the_model(api: Any, db: Any) -> None:
    # Given an assistant whose monthly budget the first answer uses up
    owner = new_user(api)
    assistant = create_assistant(api, owner, monthly_token_budget=1)
    token = session_token(api, assistant["public_id"])
    first = ask(api, assistant["public_id"], token, "What are your opening hours?")
    assert first.status_code == 200 and first.json()["limited"] is None

    # When the visitor asks again (with a real model configured)
    with chat_uses_zhipu_fake() as zhipu:
        second = ask(api, assistant["public_id"], token, "And on Sundays?")
        chinese = ask(api, assistant["public_id"], token, "周日营业吗？")
        calls = zhipu.requests_to("/chat/completions")

    # Then they get a friendly sentence in their language, the model is not called, nothing is billed
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["limited"] == "budget" and body["no_answer"] is False and body["sources"] == []
    assert body["content"].startswith("Sorry, this assistant can't answer more questions right now")
    assert chinese.json()["content"].startswith("抱歉")
    assert calls == []
    stored = db.execute(
        "SELECT prompt_tokens + completion_tokens AS tokens FROM assistant_messages WHERE id = %s",
        (body["message_id"],),
    ).fetchone()
    assert stored["tokens"] == 0

    # And raising the budget lets the assistant answer again
    api.put(f"{API}/assistants/{assistant['id']}", json={"monthly_token_budget": None}, headers=owner.headers)
    assert ask(api, assistant["public_id"], token, "And on Mondays?").json()["limited"] is None


def test_the_owners_used_up_quota_answers_politely(api: Any, db: Any) -> None:
    owner = new_user(api)
    assistant = create_assistant(api, owner)
    db.execute(
        """INSERT INTO usage_ledger (user_id, day, model, requests, total_tokens)
           VALUES (%s, (now() AT TIME ZONE 'UTC')::date, 'glm-4-flash', 1, 1000000000)""",
        (owner.id,),
    )
    answer = ask(api, assistant["public_id"], session_token(api, assistant["public_id"]), "Hello?")
    assert answer.status_code == 200, answer.text
    assert answer.json()["limited"] == "quota"


def test_a_deactivated_assistant_answers_404(api: Any) -> None:
    owner = new_user(api)
    assistant = create_assistant(api, owner)
    token = session_token(api, assistant["public_id"])
    off = api.put(f"{API}/assistants/{assistant['id']}", json={"is_active": False}, headers=owner.headers)
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert ask(api, assistant["public_id"], token, "Hello?").status_code == 404
    sessions = api.post(f"{API}/public/assistants/{assistant['public_id']}/sessions")
    assert sessions.status_code == 404
    # The owner still reads it; switching it back on restores the visitors
    assert api.get(f"{API}/assistants/{assistant['id']}", headers=owner.headers).status_code == 200
    api.put(f"{API}/assistants/{assistant['id']}", json={"is_active": True}, headers=owner.headers)
    assert ask(api, assistant["public_id"], token, "Hello?").status_code == 200
    # A deleted one is gone for good
    assert api.delete(f"{API}/assistants/{assistant['id']}", headers=owner.headers).status_code == 204
    assert ask(api, assistant["public_id"], token, "Hello?").status_code == 404


def test_nothing_found_is_the_no_answer_message_without_a_model_call(api: Any, db: Any) -> None:
    # Given an assistant over a knowledge base with nothing in it
    owner = new_user(api)
    empty_kb = create_kb(api, owner, name="Empty")
    assistant = create_assistant(
        api, owner, knowledge_base_ids=[empty_kb], no_answer_message="Please write to help@shop.example.com."
    )
    default = create_assistant(api, owner, knowledge_base_ids=[empty_kb])

    # When visitors ask
    answer = ask(api, assistant["public_id"], session_token(api, assistant["public_id"]), "Where is my parcel?")
    english = ask(api, default["public_id"], session_token(api, default["public_id"]), "Where is my parcel?")
    chinese = ask(api, default["public_id"], session_token(api, default["public_id"]), "我的包裹在哪里？")

    # Then the assistant's message (or the default in the question's language) comes back, unbilled
    assert answer.json()["content"] == "Please write to help@shop.example.com."
    assert answer.json()["no_answer"] is True and answer.json()["sources"] == []
    assert english.json()["content"].startswith("Sorry, I couldn't find an answer")
    assert chinese.json()["content"].startswith("抱歉")
    ledger = db.execute("SELECT count(*) AS n FROM usage_ledger WHERE user_id = %s", (owner.id,)).fetchone()
    assert ledger["n"] == 0

    # And the owner finds those conversations with the "no answer" filter and in the stats
    listed = api.get(
        f"{API}/assistants/{default['id']}/conversations", params={"no_answer": "true"}, headers=owner.headers
    ).json()["items"]
    assert len(listed) == 2 and all(c["no_answer_count"] == 1 for c in listed)
    today = api.get(f"{API}/assistants/{default['id']}/stats?days=1", headers=owner.headers).json()["days"][-1]
    assert (today["questions"], today["no_answers"], today["no_answer_rate"]) == (2, 2, 1.0)


def test_a_reply_saying_the_sources_do_not_answer_counts_as_no_answer(api: Any, db: Any) -> None:
    # Given an assistant over a returns policy (retrieval still returns its best chunk)
    owner = new_user(api)
    kb_id = knowledge_base_with(api, db, owner)
    assistant = create_assistant(api, owner, knowledge_base_ids=[kb_id], no_answer_message="Call us on 555-0100.")

    # When a visitor asks something the policy does not cover (the offline model says so)
    answer = ask(api, assistant["public_id"], session_token(api, assistant["public_id"]), "Do you sell bicycles?")

    # Then it is a no-answer, without sources, ending with the owner's message
    body = answer.json()
    assert body["no_answer"] is True and body["sources"] == []
    assert body["content"].endswith("Call us on 555-0100.")
