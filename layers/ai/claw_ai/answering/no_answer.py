"""Saying plainly that the knowledge base does not cover a question.

Two ways to get there, both decided here so chat, knowledge queries and assistants agree:

* retrieval found no passage above the embedding model's relevance threshold: the model is
  not called at all, the answer is the knowledge base's ``no_answer_message`` (or a default in
  the question's language) and ``no_answer`` is true;
* the model was given sources but says they don't answer: it is told (``GROUNDING_RULES``) to
  reply exactly ``NO_ANSWER_MARKER`` then; such a reply (or a short reply that plainly says
  the sources lack the answer) becomes the same no-answer message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from claw_ai.cjk import HAS_HAN

NO_ANSWER_MARKER = "[NO_ANSWER]"

GROUNDING_RULES = (
    "Answer only from the sources above, citing them as [n]; do not use outside knowledge. "
    f"If the sources do not contain the answer, reply with exactly {NO_ANSWER_MARKER} and nothing else.\n"
    f"只根据上述资料回答并以 [n] 标注出处，不要使用资料以外的知识；如果资料中没有答案，只回复 {NO_ANSWER_MARKER}。"
)

DEFAULT_MESSAGE_ZH = "抱歉，知识库中没有找到与这个问题相关的内容，暂时无法回答。"
DEFAULT_MESSAGE_EN = "Sorry, the knowledge base does not cover this question, so I can't answer it."

# Short replies that say the sources lack the answer (when a model ignores the marker rule).
_DECLINES = re.compile(
    r"(sources?|context|knowledge base|documents?|passages?|materials?)\W+(provided\W+)?"
    r"(do(es)?\s*n[o']t|doesn't|don't|contain no|have no|has no)\s+(contain|include|mention|cover|provide|say|answer)"
    r"|(资料|知识库|文档|来源|参考内容)(中|里)?(并)?(没有|未|不包含|未包含|未提及|没有提到|无法回答)",
    re.IGNORECASE,
)
DECLINE_MAX_CHARS = 160
"""A longer reply is an answer that mentions a gap, not a refusal."""


def default_message(question: str) -> str:
    """The default no-answer message, in Chinese when the question contains Han characters."""
    return DEFAULT_MESSAGE_ZH if HAS_HAN.search(question) else DEFAULT_MESSAGE_EN


def message_for(question: str, configured: str | None) -> str:
    """The knowledge base's configured message, else the default in the question's language."""
    return configured.strip() if configured and configured.strip() else default_message(question)


def says_no_answer(reply: str) -> bool:
    """True when a model's reply declines because its sources do not answer the question."""
    text = reply.strip()
    if NO_ANSWER_MARKER in text:
        return True
    return len(text) <= DECLINE_MAX_CHARS and bool(_DECLINES.search(text))


def kb_no_answer_message(conn: Any, owner_id: str, kb_ids: Sequence[str]) -> str | None:
    """The first configured no-answer message among the owner's knowledge bases (in the given order)."""
    if not kb_ids:
        return None
    rows = conn.execute(
        """SELECT id::text AS id, no_answer_message FROM knowledge_bases
            WHERE owner_id = %s AND id = ANY(%s::uuid[]) AND no_answer_message IS NOT NULL""",
        (owner_id, list(kb_ids)),
    ).fetchall()
    by_id = {r["id"]: r["no_answer_message"] for r in rows}
    return next((by_id[k] for k in kb_ids if k in by_id), None)


class MarkerGuard:
    """Holds streamed text back while it could still be the no-answer marker.

    Wraps an ``on_delta`` callback: text that is a prefix of ``NO_ANSWER_MARKER`` (after
    leading spaces) is kept until it either becomes something else (then it is passed on) or
    the stream ends. A marker reply never reaches the client; the no-answer message does.
    """

    def __init__(self, on_delta: Callable[[str], None]) -> None:
        self.on_delta = on_delta
        self.held = ""
        self.passing = False

    def __call__(self, text: str) -> None:
        if self.passing:
            self.on_delta(text)
            return
        self.held += text
        if not NO_ANSWER_MARKER.startswith(self.held.lstrip()[: len(NO_ANSWER_MARKER)]):
            self.passing = True
            self.on_delta(self.held)
            self.held = ""

    def finish(self, final_text: str | None) -> None:
        """End of stream: send ``final_text`` (the no-answer message) or whatever is still held."""
        if final_text is not None:
            self.on_delta(final_text)
        elif self.held:
            self.on_delta(self.held)
        self.held = ""
