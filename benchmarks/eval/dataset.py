"""The evaluation set: the documents of ``corpus/`` and the questions of ``questions.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.eval.metrics import contains_fact

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QUESTIONS = HERE / "questions.yaml"

CATEGORIES = (
    "zh_paraphrase",
    "en_paraphrase",
    "cross_zh_en",
    "cross_en_zh",
    "exact_term",
    "clause",
    "distractor",
    "unanswerable",
)
CROSS_LINGUAL = ("cross_zh_en", "cross_en_zh")
# Sent through the text body route (the console's "paste text"); every other file is uploaded
# as a multipart file so its own parser (TXT, HTML, CSV, JSON) runs.
TEXT_BODY_SUFFIXES = (".md",)


@dataclass(frozen=True)
class Gold:
    """One acceptable passage: a chunk of ``doc`` whose text contains ``fact``."""

    doc: str
    fact: str


@dataclass(frozen=True)
class Question:
    id: str
    category: str
    question: str
    gold: tuple[Gold, ...] = ()
    distractor: str | None = None  # the superseded near-duplicate, for distractor questions

    @property
    def answerable(self) -> bool:
        return bool(self.gold)


@dataclass
class CorpusDocument:
    filename: str
    title: str
    data: bytes
    via: str  # "text" or "upload"
    extra: dict[str, Any] = field(default_factory=dict)


def _title(path: Path, text: str) -> str:
    """The title a person would give it: the first Markdown heading or first line, else the name."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if path.suffix in (".txt",) and line:
            return line
    return path.stem


def load_corpus() -> list[CorpusDocument]:
    """Every file of ``corpus/``, sorted by name, with how it is sent to the API."""
    docs = []
    for path in sorted(CORPUS.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        data = path.read_bytes()
        text = data.decode("utf-8")
        via = "text" if path.suffix in TEXT_BODY_SUFFIXES else "upload"
        docs.append(CorpusDocument(path.name, _title(path, text), data, via))
    return docs


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The questions, validated against the corpus (see ``validate``)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = [
        Question(
            id=str(item["id"]),
            category=item["category"],
            question=str(item["question"]),
            gold=tuple(Gold(str(g["doc"]), str(g["fact"])) for g in item.get("gold") or ()),
            distractor=item.get("distractor"),
        )
        for item in raw
    ]
    validate(questions)
    return questions


def validate(questions: list[Question]) -> None:
    """Fail loudly on a broken set: unknown category or document, duplicate id, a fact missing
    from its gold document, a distractor that also holds the fact, an answerable question in
    the unanswerable category or the reverse."""
    names = {p.name: p for p in CORPUS.iterdir()}
    seen: set[str] = set()
    problems = []
    for q in questions:
        if q.id in seen:
            problems.append(f"{q.id}: duplicate id")
        seen.add(q.id)
        if q.category not in CATEGORIES:
            problems.append(f"{q.id}: unknown category {q.category!r}")
        if (q.category == "unanswerable") == q.answerable:
            problems.append(f"{q.id}: unanswerable questions (and only they) have no gold")
        for g in q.gold:
            if g.doc not in names:
                problems.append(f"{q.id}: unknown document {g.doc}")
            elif not contains_fact(names[g.doc].read_text(encoding="utf-8"), g.fact):
                problems.append(f"{q.id}: fact {g.fact!r} is not in {g.doc}")
        if q.distractor:
            if q.distractor not in names:
                problems.append(f"{q.id}: unknown distractor {q.distractor}")
            elif any(contains_fact(names[q.distractor].read_text(encoding="utf-8"), g.fact) for g in q.gold):
                problems.append(f"{q.id}: the distractor also contains the fact (it would count as a hit)")
    if problems:
        raise ValueError("invalid evaluation set:\n  " + "\n  ".join(problems))


def is_relevant(question: Question, filename: str | None, chunk_text: str | None) -> bool:
    """Passage-level judgement: the source is from a gold document and its chunk holds the fact."""
    return any(filename == g.doc and contains_fact(chunk_text, g.fact) for g in question.gold)
