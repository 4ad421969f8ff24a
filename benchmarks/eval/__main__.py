"""``python -m benchmarks.eval`` (``make eval``): the bilingual retrieval and answer evaluation.

Starts the real local platform (embedded PostgreSQL + pgvector, Valkey, moto S3/SQS, the
gateway, the SQS event source) in a temporary folder on free loopback ports, exactly as the
tests do; ingests ``corpus/`` over the API; asks every question of ``questions.yaml`` in the
default mode and in ``vector`` and ``hybrid`` explicitly; prints tables and writes
``benchmarks/results/eval.md`` (and, with ``--json``, every per-question result).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

RESULTS_MD = Path(__file__).resolve().parents[1] / "results" / "eval.md"


def _subset(questions: list, limit: int | None) -> list:
    """The first ``limit`` questions taken round-robin over categories (a quick run covers all)."""
    if not limit:
        return questions
    by_cat: dict[str, list] = {}
    for q in questions:
        by_cat.setdefault(q.category, []).append(q)
    picked: list = []
    while len(picked) < min(limit, len(questions)):
        for items in by_cat.values():
            if items and len(picked) < limit:
                picked.append(items.pop(0))
    return picked


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    from benchmarks.eval.runner import MODES

    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval", description=__doc__)
    parser.add_argument("--mode", action="append", choices=MODES, help="mode(s) to run (default: all three)")
    parser.add_argument("--limit", type=int, help="ask only this many questions (spread over the categories)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="ingest into this many fresh knowledge bases and ask everything in each (default 3): hybrid "
        "ranking ties are broken by random document ids, so single runs differ by a few questions",
    )
    parser.add_argument(
        "--keep-old-versions",
        action="store_true",
        help="don't mark the old policy and price list versions as superseded (they stay searchable)",
    )
    parser.add_argument("--json", dest="json_out", help="write every per-question result to this file")
    parser.add_argument(
        "--output",
        help="Markdown report (default benchmarks/results/eval.md; not written for --limit runs unless given)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.eval.runner import MODES

    args = _parse_args(argv)
    modes = list(dict.fromkeys(args.mode or MODES))

    from benchmarks.eval.dataset import CATEGORIES, load_corpus, load_questions

    questions = _subset(load_questions(), args.limit)
    docs = load_corpus()
    counts = Counter(q.category for q in questions)
    print(
        f"{len(docs)} documents, {len(questions)} questions: "
        + ", ".join(f"{c} {counts[c]}" for c in CATEGORIES if counts[c]),
        flush=True,
    )

    from benchmarks._common import add_code_paths, machine_info

    add_code_paths()
    from claw_local.services import apply_dummy_aws_env, free_port

    apply_dummy_aws_env(override=True)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "claw-eval")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ClawAI")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    import httpx

    from benchmarks.eval.report import markdown, print_summary, summarise
    from claw_local.platform import LocalPlatform

    started = time.perf_counter()
    seconds: dict[str, float] = {}
    data_dir = Path(tempfile.mkdtemp(prefix="claw-eval-"))
    platform = LocalPlatform(
        data_dir,
        gateway_port=free_port(),
        aws_port=free_port(),
        visibility_timeout_override=5,
        extra_env={"POWERTOOLS_DEV": "false", "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    real_stdout = sys.stdout
    try:
        # Handlers print EMF metrics to stdout, a line per request: keep the tables readable.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            platform.start()
            seconds["platform start"] = time.perf_counter() - started
            print(f"platform up in {seconds['platform start']:.1f}s", file=real_stdout, flush=True)
            machine = machine_info()
            with httpx.Client(base_url=platform.gateway_url, timeout=120) as client:
                results, chunk_texts = _run_all(client, docs, questions, modes, args, seconds, real_stdout)
    finally:
        platform.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    seconds["total"] = time.perf_counter() - started

    summary = summarise(results)
    print_summary(summary)
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps({"summary": summary, "results": results, "chunks": chunk_texts}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
        print(f"\nwrote {args.json_out}")
    output = Path(args.output) if args.output else (None if args.limit else RESULTS_MD)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        counts_ordered = {c: counts[c] for c in CATEGORIES if counts[c]}
        output.write_text(
            markdown(summary, machine=machine, counts=counts_ordered, documents=len(docs), seconds=seconds),
            encoding="utf-8",
        )
        print(f"wrote {output}")
    print(f"({seconds['total']:.0f}s in all)")
    return 0


def _run_all(
    client: Any, docs: list, questions: list, modes: list[str], args: argparse.Namespace, seconds: dict, out: Any
) -> tuple[list, dict[str, str]]:
    """Ingest into ``args.repeat`` fresh knowledge bases and ask everything in each."""
    from benchmarks.eval.runner import ask_all, create_account, ingest

    headers = create_account(client)
    results: list = []
    chunk_texts: dict[str, str] = {}
    for run in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        session = ingest(client, headers, docs, supersede=not args.keep_old_versions)
        seconds[f"ingest, run {run + 1} (all documents ready)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        answers = ask_all(session, questions, modes)
        seconds[f"{len(answers)} queries, run {run + 1}"] = time.perf_counter() - t0
        print(
            f"run {run + 1}: {len(docs)} documents, {len(session.chunks)} chunks, ingested in "
            f"{seconds[f'ingest, run {run + 1} (all documents ready)']:.1f}s; {len(answers)} queries in "
            f"{seconds[f'{len(answers)} queries, run {run + 1}']:.1f}s",
            file=out,
            flush=True,
        )
        for r in answers:
            r["run"] = run
        results += answers
        if not chunk_texts:
            filename_of = session.filename_of
            # "file#index" -> chunk text: lets later work re-judge or re-rank offline.
            chunk_texts = {f"{filename_of[d]}#{i}": t for (d, i), t in sorted(session.chunks.items())}
    return results, chunk_texts


if __name__ == "__main__":
    sys.exit(main())
