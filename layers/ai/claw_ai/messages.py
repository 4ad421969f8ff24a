"""What goes to and comes back from a language model: chat turns, passages, completions, usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

Role: TypeAlias = Literal["system", "user", "assistant"]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat turn."""

    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        """The wire form every OpenAI-style chat API takes."""
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one call (the provider's when it reports them, else counted locally)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        """Usage whose total is the sum of its parts."""
        return cls(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens)


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished answer. ``latency_ms`` covers the whole call, retries and backoff included."""

    content: str
    model: str
    usage: Usage
    finish_reason: str | None
    latency_ms: int


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """A piece of answer text, in order; the pieces of one stream concatenate to its answer."""

    text: str


StreamEvent: TypeAlias = StreamDelta | Completion
"""What :meth:`LLMProvider.stream` yields: ``StreamDelta`` items, then exactly one ``Completion``."""


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved piece of a document. ``source_id`` identifies it to the caller (e.g. chunk id)."""

    title: str
    text: str
    source_id: str
