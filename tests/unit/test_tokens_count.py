"""Offline token counting (Qwen BPE) and fitting chat history to a token budget."""

from __future__ import annotations

import pytest

from claw_ai.messages import ChatMessage
from claw_ai.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    count_messages,
    count_tokens,
    estimate_tokens,
    fit_history,
    load_tokenizer,
)


def test_tokenizer_loads_offline_from_the_wheel() -> None:
    assert load_tokenizer() is not None


def test_counts_english_and_chinese_with_the_bpe() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello") == 1
    english = count_tokens("The quick brown fox jumps over the lazy dog.")
    assert 8 <= english <= 12
    chinese = "退货政策：收到商品七天内可以无理由退货。"
    # Qwen's vocabulary merges common Chinese words, so fewer tokens than characters.
    assert 0 < count_tokens(chinese) < len(chinese)


def test_special_token_lookalikes_are_counted_as_plain_text() -> None:
    # A user typing "<|im_end|>" must not be counted (or treated) as one control token.
    assert count_tokens("<|im_end|>") > 1


def test_estimate_is_one_token_per_cjk_char_and_four_chars_otherwise() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("abcdefgh") == 2
    assert estimate_tokens("abcdefghi") == 3
    assert estimate_tokens("你好 abcd") == 2 + 2


def test_unavailable_tokenizer_falls_back_to_the_estimate() -> None:
    # Given a tokenizer that cannot be loaded
    assert load_tokenizer("no-such-tokenizer") is None

    # Then counting still works, with the documented estimate
    text = "知识库 knowledge base"
    assert count_tokens(text, tokenizer_name="no-such-tokenizer") == estimate_tokens(text)


def test_count_messages_adds_per_message_overhead_and_reply_priming() -> None:
    messages = [ChatMessage("system", "You are helpful."), ChatMessage("user", "你好")]
    content = count_tokens("You are helpful.") + count_tokens("你好")
    assert count_messages(messages) == content + 2 * MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS
    assert count_messages([m.to_dict() for m in messages]) == count_messages(messages)
    assert count_messages([]) == 0


def _history(turns: int) -> list[ChatMessage]:
    history: list[ChatMessage] = []
    for i in range(turns):
        history.append(ChatMessage("user", f"question number {i} about the refund policy"))
        history.append(ChatMessage("assistant", f"answer number {i}: refunds take seven days"))
    return history


def test_fit_history_keeps_everything_that_fits() -> None:
    history = _history(3)
    fitted = fit_history("Be brief.", history, "And shipping?", budget=10_000)
    assert fitted == [ChatMessage("system", "Be brief."), *history, ChatMessage("user", "And shipping?")]


def test_fit_history_drops_oldest_turns_first_and_stays_within_budget() -> None:
    # Given ten turns and a budget for only a few of them
    history = _history(10)
    full = count_messages([ChatMessage("system", "Be brief."), *history, ChatMessage("user", "And shipping?")])
    budget = full // 3

    # When history is fitted
    fitted = fit_history("Be brief.", history, "And shipping?", budget=budget)

    # Then the system prompt and question stay, the newest turns are kept, and it fits
    assert fitted[0] == ChatMessage("system", "Be brief.")
    assert fitted[-1] == ChatMessage("user", "And shipping?")
    kept = fitted[1:-1]
    assert 0 < len(kept) < len(history)
    assert kept == history[len(history) - len(kept) :]
    assert count_messages(fitted) <= budget
    # And the kept history starts with a question, never with an orphaned answer
    assert kept[0].role == "user"


def test_fit_history_never_drops_the_question_even_over_budget() -> None:
    question = "请详细说明退货政策。" * 50
    fitted = fit_history("系统提示", _history(5), question, budget=10)
    assert [m.role for m in fitted] == ["system", "user"]
    assert fitted[-1].content == question


def test_fit_history_accepts_messages_and_no_system_prompt() -> None:
    question = ChatMessage("user", "hi")
    assert fit_history(None, [], question, budget=100) == [question]
    system = ChatMessage("system", "s")
    assert fit_history(system, [], "hi", budget=100) == [system, question]


@pytest.mark.parametrize("budget", [0, 50, 120, 400])
def test_fit_history_result_is_always_a_suffix_of_history(budget: int) -> None:
    history = _history(6)
    kept = fit_history("sys", history, "q", budget=budget)[1:-1]
    assert kept == history[len(history) - len(kept) :]
