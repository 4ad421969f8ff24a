"""Pure pieces of chat: prompt building, cache keys, cursors, quota month boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime

from claw_ai.answer_cache import cache_key
from claw_ai.answering import ledger, pipeline
from claw_ai.messages import ChatMessage
from claw_ai.retrieval.sources import Source
from claw_ai.tokens import count_messages

SOURCE = Source("doc-1", "Returns", 0, 0.8, "Returns within 30 days.", "Returns are accepted within 30 days.")


def test_build_messages_fences_sources_after_the_system_prompt_and_ends_with_the_question() -> None:
    messages = pipeline.build_messages("Be brief.", [], "Can I return it?", [SOURCE], 4000)
    assert [m.role for m in messages] == ["system", "user"]
    assert messages[0].content.startswith("Be brief.\n\n")
    assert '<<<SOURCE 1 title="Returns">>>' in messages[0].content
    assert messages[-1] == ChatMessage("user", "Can I return it?")


def test_build_messages_drops_the_oldest_history_to_fit_the_budget_but_never_the_sources() -> None:
    history = []
    for n in range(40):
        history += [ChatMessage("user", f"question {n} " * 20), ChatMessage("assistant", f"answer {n} " * 20)]
    messages = pipeline.build_messages("Be brief.", history, "latest?", [SOURCE], 1500)
    assert count_messages(messages) <= 1500
    assert "<<<SOURCE 1" in messages[0].content and messages[-1].content == "latest?"
    kept = messages[1:-1]
    assert 0 < len(kept) < len(history)
    assert kept[-1] == history[-1] and kept[0].role == "user"


def test_cache_key_changes_with_anything_the_model_would_see() -> None:
    base = [ChatMessage("system", "s"), ChatMessage("user", "q")]
    key = cache_key("u1", "glm-4", base)
    assert key == cache_key("u1", "glm-4", list(base))
    assert key != cache_key("u2", "glm-4", base)
    assert key != cache_key("u1", "glm-4-air", base)
    assert key != cache_key(
        "u1", "glm-4", [base[0], ChatMessage("user", "earlier"), ChatMessage("assistant", "a"), base[1]]
    )
    assert key != cache_key("u1", "glm-4", [ChatMessage("system", "s2"), base[1]])


def test_quota_resets_at_the_first_of_the_next_month_utc() -> None:
    assert ledger.next_month(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert ledger.next_month(date(2026, 2, 1)) == datetime(2026, 3, 1, tzinfo=UTC)
    assert ledger.month_start(date(2026, 2, 17)) == date(2026, 2, 1)


def test_sources_shown_to_clients_leave_out_the_full_text() -> None:
    public = SOURCE.public()
    assert "text" not in public and public["snippet"] == "Returns within 30 days."
    assert SOURCE.to_passage().source_id == "doc-1#0"
