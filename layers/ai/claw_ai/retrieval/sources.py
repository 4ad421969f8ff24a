"""The retrieval seam: what knowledge base search gives the answer pipeline.

Answering depends on :class:`Retriever` only; the process's retriever comes from
:func:`claw_ai.retrieval.retriever.get_retriever`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field

from claw_ai.messages import Passage

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


class CitedSource(BaseModel):
    """A cited chunk as clients see it: where it comes from and a snippet, never the whole text."""

    document_id: str
    title: str
    chunk_index: int
    score: float = Field(description="Relevance of the chunk to the question (higher is closer).")
    snippet: str
    heading: str | None = None
    page: int | None = None
