"""The retrieval seam of chat: what the knowledge base search gives the answer builder.

Chat logic depends on :class:`Retriever` only and gets one from :func:`get_retriever`.
Until the knowledge base search lands, the factory returns :class:`NoRetriever`, which finds
nothing, so chat answers from the conversation alone. The pgvector retriever replaces the
factory's body; nothing else in chat changes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Protocol

from claw_common.llm import Passage

SNIPPET_CHARS = 240
"""Length of the ``snippet`` shown to clients (the whole ``text`` goes to the model only)."""


@dataclass(frozen=True, slots=True)
class Source:
    """One retrieved chunk of a document, as search returns it (best first)."""

    document_id: str
    title: str
    chunk_index: int
    score: float
    snippet: str
    text: str
    heading: str | None = None
    page: int | None = None

    def to_passage(self) -> Passage:
        """The chunk as a prompt passage (fenced as untrusted data by the chat layer)."""
        title = f"{self.title} / {self.heading}" if self.heading else self.title
        return Passage(title=title, text=self.text, source_id=f"{self.document_id}#{self.chunk_index}")

    def public(self) -> dict[str, Any]:
        """What clients see and what a message stores: everything but the full ``text``."""
        data = asdict(self)
        data.pop("text")
        return data


class Retriever(Protocol):
    """Searches the owner's knowledge bases; never returns another user's chunks."""

    def search(
        self,
        conn: Any,
        *,
        owner_id: str,
        kb_ids: list[str],
        question: str,
        top_k: int,
        mode: str = "hybrid",
    ) -> list[Source]:
        """The ``top_k`` chunks of ``kb_ids`` (only those owned by ``owner_id``) most relevant to ``question``.

        ``mode`` is ``"vector"`` or ``"hybrid"``; ``conn`` is an open psycopg connection (dict rows).
        """
        ...


class NoRetriever:
    """A retriever with no knowledge: every search finds nothing."""

    def search(
        self,
        conn: Any,
        *,
        owner_id: str,
        kb_ids: list[str],
        question: str,
        top_k: int,
        mode: str = "hybrid",
    ) -> list[Source]:
        """Always ``[]``."""
        return []


@lru_cache(maxsize=1)
def get_retriever() -> Retriever:
    """The process's retriever (cached: a warm Lambda reuses it): pgvector search of the knowledge bases."""
    from chat_app.knowledge_search import get_pgvector_retriever

    return get_pgvector_retriever()
