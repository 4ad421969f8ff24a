"""Prototype: weak score fusion and an answerability threshold, replayed offline.

``python -m benchmarks.eval.experiments.fusion RESULTS.json`` where RESULTS.json comes from
``python -m benchmarks.eval --json RESULTS.json``. It takes the chunk texts the platform
produced, embeds them and the questions with the same offline model (USE multilingual v3)
and checks that plain cosine ranking reproduces the API's vector mode; then re-ranks every
question with:

* ``vector``: cosine only (the API's vector mode);
* ``rrf``: cosine list + BM25 list fused by RRF (k = 60), the product's hybrid idea;
* ``fuse w``: cosine + w × BM25 / max BM25 of the question (a weak score fusion);
* ``fuse w, no 1-char``: the same with single-character Chinese tokens dropped from the query;

and reports hit@1/3, MRR, cross-lingual hit@3 and, for answerability, the AUROC of several
signals with the share of unanswerable questions a threshold would refuse when it may refuse
at most 5 % of answerable ones. Not product code; nothing here is tuned on more than this
set, so read small differences (a question is 0.8 % of the answerable ones) with care.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from benchmarks.eval.dataset import CROSS_LINGUAL, load_questions
from benchmarks.eval.metrics import auroc, best_threshold, contains_fact, hit_at_k, mean, reciprocal_rank

K1, B = 1.2, 0.75
TOP_K = 5


def bm25_index(docs: list[list[str]]) -> tuple[list[Counter[str]], dict[str, float], list[int], float]:
    tfs = [Counter(d) for d in docs]
    df: Counter[str] = Counter()
    for tf in tfs:
        df.update(tf.keys())
    n = len(docs)
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    lengths = [len(d) for d in docs]
    return tfs, idf, lengths, sum(lengths) / max(1, n)


def bm25_scores(terms: list[str], index: Any) -> np.ndarray:
    tfs, idf, lengths, avg = index
    out = np.zeros(len(tfs))
    for i, tf in enumerate(tfs):
        s = 0.0
        for t in terms:
            f = tf.get(t, 0)
            if f:
                s += idf[t] * f * (K1 + 1) / (f + K1 * (1 - B + B * lengths[i] / avg))
        out[i] = s
    return out


def is_single_han(token: str) -> bool:
    return len(token) == 1 and "\u3400" <= token <= "\u9fff"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eval.experiments.fusion", description=__doc__)
    parser.add_argument("results", help="JSON written by python -m benchmarks.eval --json")
    args = parser.parse_args(argv)
    data = json.loads(open(args.results, encoding="utf-8").read())

    from claw_ai.embeddings import OfflineEmbedder
    from claw_ai.textseg import query_terms, segment_for_search

    questions = {q.id: q for q in load_questions()}
    keys = list(data["chunks"])  # "file#index"
    texts = [data["chunks"][k] for k in keys]
    files = [k.rsplit("#", 1)[0] for k in keys]
    qids = [q for q in questions if any(r["id"] == q for r in data["results"])]

    api_vs_modes(data)

    # ------------------------------------------------------------------ the corpus as chunked
    lengths = np.array([len(t) for t in texts])
    print(
        f"{len(texts)} chunks: median {int(np.median(lengths))} chars, {np.mean(lengths < 80):.0%} under 80 chars, "
        f"{np.mean(lengths < 40):.0%} under 40"
    )

    emb = OfflineEmbedder()
    C = np.stack(emb.embed(texts))
    Q = np.stack(emb.embed([questions[i].question for i in qids]))
    cos = Q @ C.T  # questions x chunks

    index = bm25_index([segment_for_search(t).split() for t in texts])
    terms_all = {i: query_terms(questions[i].question) for i in qids}
    bm_all = np.stack([bm25_scores(terms_all[i], index) for i in qids])
    bm_multi = np.stack(
        [bm25_scores([t for t in terms_all[i] if not is_single_han(t)] or terms_all[i], index) for i in qids]
    )

    # ------------------------------------------------------------------ check: cosine == API vector mode
    api_vector = {
        r["id"]: [(s["doc"], s["chunk_index"]) for s in r["sources"]]
        for r in data["results"]
        if r["mode"] == "vector" and r.get("run", 0) == 0
    }
    agree = 0
    for qi, i in enumerate(qids):
        order = np.argsort(-cos[qi], kind="stable")[:TOP_K]
        mine = [(files[j], int(keys[j].rsplit("#", 1)[1])) for j in order]
        agree += mine == api_vector.get(i)
    print(f"offline cosine reproduces the API's vector top {TOP_K} for {agree}/{len(qids)} questions")

    def relevant(i: str, j: int) -> bool:
        return any(files[j] == g.doc and contains_fact(texts[j], g.fact) for g in questions[i].gold)

    def rrf(qi: int, bm: np.ndarray) -> np.ndarray:
        vrank = np.empty(len(keys))
        vrank[np.argsort(-cos[qi], kind="stable")] = np.arange(1, len(keys) + 1)
        score = 1.0 / (60 + vrank)
        order = np.argsort(-bm[qi], kind="stable")
        for r, j in enumerate(order, 1):
            if bm[qi, j] <= 0:
                break
            score[j] += 1.0 / (60 + r)
        return score

    def fuse(qi: int, bm: np.ndarray, w: float) -> np.ndarray:
        top = bm[qi].max()
        return cos[qi] + (w * bm[qi] / top if top > 0 else 0.0)

    # Keyword evidence as the share of the question's IDF mass a chunk contains (terms absent from
    # the corpus count at the highest IDF): a chunk matching one word of six gets a small boost,
    # not the full weight that max-normalised BM25 gives the best of weak matches.
    _, idf, _, _ = index
    top_idf = max(idf.values())
    chunk_tokens = [set(segment_for_search(t).split()) for t in texts]

    def idf_coverage(terms: list[str]) -> np.ndarray:
        weights = {t: idf.get(t, top_idf) for t in terms}
        total = sum(weights.values()) or 1.0
        return np.array([sum(w for t, w in weights.items() if t in toks) / total for toks in chunk_tokens])

    cov_multi = np.stack(
        [idf_coverage([t for t in terms_all[i] if not is_single_han(t)] or terms_all[i]) for i in qids]
    )

    variants: dict[str, Any] = {
        "vector (cosine)": lambda qi: cos[qi],
        "rrf k=60 (cosine + BM25)": lambda qi: rrf(qi, bm_all),
        "rrf k=60, no 1-char": lambda qi: rrf(qi, bm_multi),
    }
    for w in (0.1, 0.2, 0.3, 0.5):
        variants[f"fuse cos + {w} x BM25/max"] = lambda qi, w=w: fuse(qi, bm_all, w)
    for w in (0.2, 0.3):
        variants[f"fuse cos + {w} x BM25/max, no 1-char"] = lambda qi, w=w: fuse(qi, bm_multi, w)
    for w in (0.1, 0.2, 0.3):
        variants[f"fuse cos + {w} x IDF coverage, no 1-char"] = lambda qi, w=w: cos[qi] + w * cov_multi[qi]
    # A keyword gate: coverage counts only where the chunk holds at least half the IDF mass.
    for w in (0.2,):
        variants[f"fuse cos + {w} x IDF coverage if >= 0.5"] = lambda qi, w=w: (
            cos[qi] + w * np.where(cov_multi[qi] >= 0.5, cov_multi[qi], 0.0)
        )

    rows = []
    per_variant: dict[str, dict[str, Any]] = {}
    for name, scorer in variants.items():
        ranks: dict[str, list[bool]] = {}
        tops: dict[str, float] = {}
        for qi, i in enumerate(qids):
            s = scorer(qi)
            order = np.argsort(-s, kind="stable")[:TOP_K]
            ranks[i] = [relevant(i, int(j)) for j in order]
            tops[i] = float(s[order[0]])
        ans = [i for i in qids if questions[i].answerable]
        una = [i for i in qids if not questions[i].answerable]
        cross = [i for i in ans if questions[i].category in CROSS_LINGUAL]
        per_variant[name] = {"ranks": ranks, "tops": tops}
        rows.append(
            [
                name,
                mean([hit_at_k(ranks[i], 1) for i in ans]),
                mean([hit_at_k(ranks[i], 3) for i in ans]),
                mean([reciprocal_rank(ranks[i]) for i in ans]),
                mean([hit_at_k(ranks[i], 3) for i in cross]),
                mean([hit_at_k(ranks[i], 1) for i in cross]),
                auroc([tops[i] for i in ans], [tops[i] for i in una]),
            ]
        )
    print_table(
        "Re-ranking replayed offline (answerable questions; passage-level hits)",
        ["variant", "hit@1", "hit@3", "MRR@5", "cross hit@3", "cross hit@1", "AUROC top score"],
        rows,
    )

    # per category for the most promising fusion vs vector and rrf
    cats = sorted({questions[i].category for i in qids if questions[i].answerable})
    chosen = [
        "vector (cosine)",
        "rrf k=60 (cosine + BM25)",
        "fuse cos + 0.2 x BM25/max, no 1-char",
        "fuse cos + 0.2 x IDF coverage, no 1-char",
    ]
    cat_rows = []
    for c in cats:
        ids = [i for i in qids if questions[i].category == c]
        cat_rows.append([c, *[mean([hit_at_k(per_variant[v]["ranks"][i], 3) for i in ids]) for v in chosen]])
    print_table("hit@3 per category", ["category", *chosen], cat_rows)

    # ------------------------------------------------------------------ answerability signals
    ans = [i for i in qids if questions[i].answerable]
    una = [i for i in qids if not questions[i].answerable]
    qpos = {i: n for n, i in enumerate(qids)}

    def coverage(i: str) -> float:
        """Share of the question's terms (no 1-char Chinese) found in the best cosine chunk."""
        qi = qpos[i]
        terms = [t for t in terms_all[i] if not is_single_han(t)] or terms_all[i]
        j = int(np.argmax(cos[qi]))
        toks = set(segment_for_search(texts[j]).split())
        return sum(1 for t in terms if t in toks) / len(terms) if terms else 0.0

    def best_coverage(i: str, k: int = 3) -> float:
        qi = qpos[i]
        terms = [t for t in terms_all[i] if not is_single_han(t)] or terms_all[i]
        best = 0.0
        for j in np.argsort(-cos[qi])[:k]:
            toks = set(segment_for_search(texts[int(j)]).split())
            best = max(best, sum(1 for t in terms if t in toks) / len(terms) if terms else 0.0)
        return best

    signals = {
        "top cosine": lambda i: float(cos[qpos[i]].max()),
        "top cosine - 2nd-doc cosine (margin)": lambda i: margin(cos[qpos[i]], files),
        "top BM25 (raw)": lambda i: float(bm_multi[qpos[i]].max()),
        "term coverage of the top-cosine chunk": coverage,
        "best term coverage in cosine top 3": best_coverage,
        "top cosine + 0.2 x best coverage": lambda i: float(cos[qpos[i]].max()) + 0.2 * best_coverage(i),
        "top of fuse cos + 0.2 x BM25/max": lambda i: per_variant["fuse cos + 0.2 x BM25/max, no 1-char"]["tops"][i],
        "top of fuse cos + 0.2 x IDF coverage": lambda i: per_variant["fuse cos + 0.2 x IDF coverage, no 1-char"][
            "tops"
        ][i],
    }
    srows = []
    for name, f in signals.items():
        pos = [f(i) for i in ans]
        neg = [f(i) for i in una]
        t = best_threshold(pos, neg)
        srows.append(
            [name, auroc(pos, neg), f"{t['negatives_refused']}/{len(neg)}", f"{t['positives_refused']}/{len(pos)}"]
        )
    print_table(
        "Answerability: AUROC (answerable vs unanswerable) and a threshold refusing ≤5% of answerable",
        ["signal", "AUROC", "unanswerable refused", "answerable refused"],
        srows,
    )
    # Out of sample: choose the threshold on one half of the questions (by position, alternating)
    # and count what it refuses on the other half, both ways round.
    orows = []
    for name in ("top cosine", "top cosine + 0.2 x best coverage", "top of fuse cos + 0.2 x IDF coverage"):
        f = signals[name]
        refused_neg = refused_pos = 0
        for half in (0, 1):
            fit = [i for n, i in enumerate(qids) if n % 2 == half]
            test = [i for n, i in enumerate(qids) if n % 2 != half]
            t = best_threshold(
                [f(i) for i in fit if questions[i].answerable], [f(i) for i in fit if not questions[i].answerable]
            )["threshold"]
            refused_neg += sum(1 for i in test if not questions[i].answerable and f(i) < t)
            refused_pos += sum(1 for i in test if questions[i].answerable and f(i) < t)
        orows.append([name, f"{refused_neg}/{len(una)}", f"{refused_pos}/{len(ans)}"])
    print_table(
        "Threshold chosen on one half, applied to the other (both ways): refused",
        ["signal", "unanswerable refused", "answerable refused"],
        orows,
    )
    dist = defaultdict(list)
    for i in qids:
        dist["answerable" if questions[i].answerable else "unanswerable"].append(float(cos[qpos[i]].max()))
    for k, v in dist.items():
        print(f"top cosine, {k}: " + " ".join(f"p{p}={np.percentile(v, p):.3f}" for p in (5, 25, 50, 75, 95)))
    return 0


def api_vs_modes(data: dict[str, Any]) -> None:
    """From the API's own answers (run 1): per question, did vector or hybrid rank the first hit higher?"""
    by = defaultdict(dict)
    for r in data["results"]:
        if r.get("run", 0) == 0 and r["answerable"]:
            by[r["id"]][r["mode"]] = r
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for modes in by.values():
        if "vector" not in modes or "hybrid" not in modes:
            continue
        v, h = modes["vector"]["rank"] or 99, modes["hybrid"]["rank"] or 99
        outcome = "vector better" if v < h else "hybrid better" if h < v else "same"
        tally[modes["vector"]["category"]][outcome] += 1
        tally["all answerable"][outcome] += 1
    rows = [[c, t["vector better"], t["hybrid better"], t["same"]] for c, t in sorted(tally.items())]
    print_table(
        "API, vector vs hybrid: which ranked the first hit higher (run 1)",
        ["category", "vector better", "hybrid better", "same"],
        rows,
    )


def margin(row: np.ndarray, files: list[str]) -> float:
    order = np.argsort(-row)
    first = files[int(order[0])]
    second = next((row[int(j)] for j in order[1:] if files[int(j)] != first), 0.0)
    return float(row[int(order[0])] - second)


def print_table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for n, r in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(main())
