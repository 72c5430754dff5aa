"""The reader's abstention trade-off in one pass: every question read once, every threshold scored from it.

Each question is answered with the reader and no threshold (``reader_threshold`` = −∞), its margin
(best span over "no answer") kept; a threshold then abstains where the margin is at or below it.
One row per threshold: accuracy, exact match, F1, abstention recall, false abstention, median
answer length (a script, not a test; how ``evals/RESULTS.md``'s reader tables are made)::

    .venv/bin/python -m evals.reader_sweep ../shared/evals/seed_dev.jsonl --corpus seeds
    .venv/bin/python -m evals.reader_sweep bench_out/viquad_split/questions.jsonl \\
        --corpus bench_out/viquad_split/corpus --thresholds=-2,-1,0,1,2,3,4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .answer_overlap import exact_match, f1
from .matching import answer_matches


def sweep(rows: list[dict], thresholds: list[float]) -> list[dict]:
    """Metrics per threshold from rows ``{answerable, margin, correct, em, f1, chars}``."""
    out = []
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    for t in thresholds:
        answered = [r for r in rows if r["margin"] is not None and r["margin"] > t]
        kept = [r for r in answerable if r["margin"] is not None and r["margin"] > t]
        n = max(1, len(answerable))
        out.append({
            "threshold": t,
            "accuracy": round(sum(r["correct"] for r in kept) / n, 4),
            "exact_match": round(sum(r["em"] for r in kept) / n, 4),
            "answer_f1": round(sum(r["f1"] for r in kept) / n, 4),
            "abstention_recall": (round(sum(r["margin"] is None or r["margin"] <= t for r in unanswerable)
                                        / len(unanswerable), 4) if unanswerable else None),
            "false_abstention_rate": round(1 - len(kept) / n, 4),
            "median_answer_chars": float(np.median([r["chars"] for r in answered])) if answered else None,
        })
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.reader_sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("questions")
    p.add_argument("-c", "--corpus", required=True)
    p.add_argument("--thresholds", default="-2,-1,0,1,2,3,4")
    p.add_argument("-n", "--limit", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("-o", "--out", help="write the per-question rows and the table as JSON")
    args = p.parse_args(argv)
    from rag import Assistant, Settings

    from .loading import load_questions

    questions = load_questions(args.questions).questions[: args.limit]
    settings = Settings().with_(answerer="reader").with_overrides(args.set).with_(reader_threshold=-1e9)
    qa = Assistant.from_folder(args.corpus, settings=settings)
    rows, times = [], []
    qa.ask(questions[0].question)
    for q in questions:
        started = time.perf_counter()
        a = qa.ask(q.question)
        times.append((time.perf_counter() - started) * 1000)
        short = a.short_answer.text if a.short_answer else a.text
        rows.append({"id": q.id, "answerable": q.answerable, "margin": a.short_answer.score if a.short_answer else None,
                     "correct": q.answerable and answer_matches(a.text, q.answers, q.match),
                     "em": exact_match(short, q.answers) if q.answerable else 0.0,
                     "f1": f1(short, q.answers) if q.answerable else 0.0, "chars": len(a.text),
                     "short": short, "answer": a.text})
    table = sweep(rows, [float(t) for t in args.thresholds.split(",")])
    cols = list(table[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in table:
        print("| " + " | ".join("—" if r[c] is None else f"{r[c]:g}" for c in cols) + " |")
    print(f"\n{len(rows)} questions; latency p50 {np.percentile(times, 50):.0f} ms, p95 {np.percentile(times, 95):.0f} ms",
          file=sys.stderr)
    if args.out:
        Path(args.out).write_text(json.dumps({"table": table, "rows": rows, "settings": settings.to_dict()},
                                             ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
