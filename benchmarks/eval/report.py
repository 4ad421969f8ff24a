"""Aggregates per-question results into the evaluation's tables (stdout and Markdown)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.eval.dataset import CATEGORIES, CROSS_LINGUAL
from benchmarks.eval.metrics import auroc, best_threshold, hit_at_k, mean, reciprocal_rank

ROW_HEADERS = ["", "n", "hit@1", "hit@3", "MRR@5", "no source", "fact in answer", "old version above"]


def group_metrics(rows: Sequence[dict[str, Any]], runs: int = 1) -> dict[str, Any]:
    """hit@1/3, MRR and refusal/answer counts of a group of per-question results.

    With several runs (``--repeat``) the rows of every run are pooled: rates are means over
    all of them and counts are per run (so they may be fractional).
    """
    answerable = [r for r in rows if r["answerable"]]
    distractors = [r for r in rows if r["category"] == "distractor"]

    def count(items: Sequence[Any]) -> float | int:
        n = sum(1 for i in items if i)
        return n if runs == 1 else n / runs

    return {
        "n": len(rows) // runs,
        "hit@1": mean([hit_at_k(r["ranking"], 1) for r in answerable]),
        "hit@3": mean([hit_at_k(r["ranking"], 3) for r in answerable]),
        "mrr": mean([reciprocal_rank(r["ranking"]) for r in answerable]),
        "no_sources": count([r["no_sources"] for r in rows]),
        "fact_in_answer": count([r["fact_in_answer"] for r in answerable]),
        "answerable": len(answerable) // runs,
        "distractor_above": count([r["distractor_above_gold"] for r in distractors]) if distractors else None,
    }


def _mode_summary(rows: Sequence[dict[str, Any]], runs: int) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    # AUROC and the threshold are computed per run and averaged: pooling would pair runs.
    per_run = []
    for run in sorted({r.get("run", 0) for r in rows}):
        pos = [r["top_score"] for r in answerable if r.get("run", 0) == run]
        neg = [r["top_score"] for r in unanswerable if r.get("run", 0) == run]
        per_run.append((auroc(pos, neg), best_threshold(pos, neg)))
    aurocs = [a for a, _ in per_run if a is not None]
    latencies = sorted(r["latency_ms"] for r in rows)
    return {
        "overall": group_metrics(answerable, runs),
        "cross_lingual": group_metrics([r for r in rows if r["category"] in CROSS_LINGUAL], runs),
        "categories": {c: group_metrics([r for r in rows if r["category"] == c], runs) for c in CATEGORIES},
        "unanswerable_no_sources": group_metrics(unanswerable, runs)["no_sources"],
        "unanswerable": len(unanswerable) // runs,
        "answerable_no_sources": group_metrics(answerable, runs)["no_sources"],
        "answerable": len(answerable) // runs,
        "auroc_top_score": mean(aurocs),
        "threshold_5pct": per_run[0][1] if per_run else best_threshold([], []),
        "latency_ms_median": latencies[len(latencies) // 2] if latencies else None,
        "declines": {
            "unanswerable": sum(1 for r in unanswerable if r.get("answer_declines")) / runs,
            "answerable": sum(1 for r in answerable if r.get("answer_declines")) / runs,
            "while_citing": sum(1 for r in rows if r.get("answer_declines") and not r["no_sources"]) / runs,
        },
        "answer_models": sorted({str(r["model"]) for r in rows}),
    }


SPREAD_KEYS = ("hit@1", "hit@3", "mrr")


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per mode: overall (answerable), cross-lingual, per category, and the answerability signal;
    with several runs, also the lowest and highest value of the headline rates over the runs."""
    out: dict[str, dict[str, Any]] = {}
    for mode in dict.fromkeys(r["mode"] for r in results):
        rows = [r for r in results if r["mode"] == mode]
        runs = sorted({r.get("run", 0) for r in rows})
        summary = _mode_summary(rows, len(runs))
        summary["runs"] = len(runs)
        if len(runs) > 1:
            singles = [_mode_summary([r for r in rows if r.get("run", 0) == run], 1) for run in runs]
            spread = {k: [s["overall"][k] for s in singles] for k in SPREAD_KEYS}
            spread["cross_hit@3"] = [s["cross_lingual"]["hit@3"] for s in singles]
            spread["auroc"] = [s["auroc_top_score"] for s in singles]
            summary["spread"] = {k: (min(v), max(v)) for k, v in spread.items()}
        out[mode] = summary
    return out


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def headline_rows(summary: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = [
        "mode",
        "hit@1",
        "hit@3",
        "MRR@5",
        "cross-lingual hit@3",
        "unanswerable with no source",
        "answerable with no source",
        "fact in offline answer",
        "AUROC top score",
    ]
    rows = []
    for mode, s in summary.items():
        o = s["overall"]
        spread = s.get("spread", {})

        def cell(value: float | None, key: str, spread: dict[str, Any] = spread) -> str:
            if key in spread and spread[key][0] != spread[key][1]:
                return f"{_f(value)} ({_f(spread[key][0])}–{_f(spread[key][1])})"
            return _f(value)

        rows.append(
            [
                mode,
                cell(o["hit@1"], "hit@1"),
                cell(o["hit@3"], "hit@3"),
                cell(o["mrr"], "mrr"),
                cell(s["cross_lingual"]["hit@3"], "cross_hit@3"),
                f"{_f(s['unanswerable_no_sources'], 1)} of {s['unanswerable']}",
                f"{_f(s['answerable_no_sources'], 1)} of {s['answerable']}",
                f"{_f(o['fact_in_answer'], 1)} of {o['answerable']}",
                cell(s["auroc_top_score"], "auroc"),
            ]
        )
    return headers, rows


def category_rows(s: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, g in [
        *s["categories"].items(),
        ("cross-lingual (both)", s["cross_lingual"]),
        ("answerable (all)", s["overall"]),
    ]:
        answerable = g["answerable"]
        rows.append(
            [
                name,
                str(g["n"]),
                _f(g["hit@1"]),
                _f(g["hit@3"]),
                _f(g["mrr"]),
                f"{_f(g['no_sources'], 1)}/{g['n']}",
                f"{_f(g['fact_in_answer'], 1)}/{answerable}" if answerable else "—",
                f"{_f(g['distractor_above'], 1)}/{g['n']}" if g["distractor_above"] is not None else "",
            ]
        )
    return rows


def text_table(title: str, headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [title, "  " + "  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  " + "  ".join("-" * w for w in widths))
    lines += ["  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def print_summary(summary: dict[str, dict[str, Any]]) -> None:
    headers, rows = headline_rows(summary)
    print("\n" + text_table("Headline (answerable questions; passage-level hits)", headers, rows))
    for mode, s in summary.items():
        print("\n" + text_table(f"mode: {mode} (per category)", ROW_HEADERS, category_rows(s)))
        t = s["threshold_5pct"]
        print(
            f"  top-score threshold refusing ≤5% of answerable: {_f(t['threshold'], 4)} → "
            f"unanswerable refused {t['negatives_refused']}/{s['unanswerable']}, "
            f"answerable refused {t['positives_refused']}/{s['answerable']}"
        )
        d = s["declines"]
        print(
            f"  answer declines: unanswerable {_f(d['unanswerable'], 1)}/{s['unanswerable']}, "
            f"answerable {_f(d['answerable'], 1)}/{s['answerable']}, with sources listed {_f(d['while_citing'], 1)}"
        )


def markdown(
    summary: dict[str, dict[str, Any]],
    *,
    machine: dict[str, str],
    counts: dict[str, int],
    documents: int,
    seconds: dict[str, float],
) -> str:
    headers, rows = headline_rows(summary)
    lines = [
        "# Retrieval and answer evaluation (`make eval`)",
        "",
        "Our own bilingual set (`benchmarks/eval/`: "
        f"{len(counts)} categories, {sum(counts.values())} questions, "
        f"{documents} documents) run through the real local platform: ingest over the API "
        "(Markdown as text bodies; TXT, HTML, CSV and JSON as multipart uploads) and "
        "`POST /knowledge/{kb}/query` with `top_k` 5 and `answer: true` (offline embedder and offline "
        "answerer). A source is a hit when it comes from the gold document and its chunk text contains the "
        "question's fact (whitespace, case and full-width forms ignored). `default` sends no `mode`. "
        "The corpus's old versions (2023 return policy, 2022 warranty, 2024 price list) are marked superseded "
        "through the API unless the run used `--keep-old-versions`; before/after figures and how each "
        "choice was measured: `benchmarks/eval/experiments/FINDINGS.md`.",
        "",
        "## Headline",
        "",
        md_table(headers, rows),
        "",
        "hit@k and MRR are over answerable questions; MRR is cut at the 5 sources returned. AUROC: how well the "
        "top source's score separates answerable from unanswerable questions (0.5 = chance). "
        '"fact in offline answer": the gold fact string appears in the generated answer.',
        "",
    ]
    lines.append("## Questions per category\n")
    lines.append(md_table(["category", "questions"], [[k, str(v)] for k, v in counts.items()]))
    lines.append("")
    for mode, s in summary.items():
        t = s["threshold_5pct"]
        lines += [
            f"## Mode `{mode}`",
            "",
            md_table(ROW_HEADERS, category_rows(s)),
            "",
            f"Answer model: {', '.join(s['answer_models'])}. Median query latency (with answer): "
            f"{_f(s['latency_ms_median'], 0)} ms. Runs pooled: {s['runs']} (rates are means; counts per run; "
            "ranges in the headline are the lowest and highest run). A plain top-score threshold (run 1) that "
            f"refuses at most 5% of the answerable questions ({_f(t['threshold'], 4)}) would refuse "
            f"{t['negatives_refused']} of {s['unanswerable']} unanswerable ones. The answer says it cannot answer "
            f"for {_f(s['declines']['unanswerable'], 1)} of {s['unanswerable']} unanswerable and "
            f"{_f(s['declines']['answerable'], 1)} of {s['answerable']} answerable questions; "
            f"{_f(s['declines']['while_citing'], 1)} of those declines come with sources listed.",
            "",
        ]
    lines += ["## Machine and run", ""]
    lines += [f"- {k}: {v}" for k, v in machine.items()]
    lines += [f"- {k}: {v:.0f} s" for k, v in seconds.items()]
    lines.append("")
    return "\n".join(lines)
