"""Run ``virag eval`` once per configuration and print one Markdown table row per run.

This is how the rows of ``evals/RESULTS.md`` are produced (a script, not a test)::

    .venv/bin/python -m evals.sweep evals/seed_dev.jsonl --corpus seeds \\
        --config "default" --config "rrf: fusion=rrf dense_weight=1 pair_weight=0"

Each ``--config`` is ``NAME: KEY=VALUE …`` (settings of ``rag.Settings``); the JSON of every run
is kept under ``--out`` (default ``bench_out/sweep``, git-ignored). ``--no-diacritics`` strips the
diacritics of every question first (the file is written under ``--out``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = [("retrieval", "doc_ndcg@10"), ("retrieval", "doc_recall@1"), ("retrieval", "doc_recall@5"),
           ("retrieval", "evidence_recall@5"), ("answer", "accuracy"), ("answer", "abstention_recall"),
           ("answer", "false_abstention_rate"), ("answer", "median_answer_chars"), ("latency_ms", "p50")]


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) and value < 10 else f"{value:.0f}"


def _strip_diacritics(questions: Path, out: Path) -> Path:
    from rag.vietnamese import fold

    target = out / f"{questions.stem}_nodiacritics.jsonl"
    with questions.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as dst:
        for line in src:
            if line.strip():
                row = json.loads(line)
                row["question"] = fold(row["question"])
                dst.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("questions", type=Path)
    p.add_argument("-c", "--corpus", required=True)
    p.add_argument("--config", action="append", default=[], help='"NAME: KEY=VALUE …" (repeatable; default: default)')
    p.add_argument("-n", "--limit", type=int)
    p.add_argument("--no-diacritics", action="store_true", help="strip the diacritics of every question first")
    p.add_argument("-o", "--out", type=Path, default=ROOT / "bench_out" / "sweep")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    questions = _strip_diacritics(args.questions, args.out) if args.no_diacritics else args.questions

    from .cli import main as virag_eval

    header = "| config | " + " | ".join(k for _, k in COLUMNS) + " |"
    rows = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for spec in args.config or ["default"]:
        name, _, pairs = spec.partition(":")
        slug = re.sub(r"\W+", "-", name.strip()).strip("-") or "run"
        out_json = args.out / f"{questions.stem}-{slug}.json"
        argv_eval = [str(questions), "--corpus", args.corpus, "--json", str(out_json), "--quiet"]
        for pair in pairs.split():
            argv_eval += ["--set", pair]
        if args.limit:
            argv_eval += ["--limit", str(args.limit)]
        if virag_eval(argv_eval):
            return 1
        result = json.loads(out_json.read_text(encoding="utf-8"))
        rows.append(f"| {name.strip()} `{pairs.strip() or 'defaults'}` | "
                    + " | ".join(_fmt(result[group].get(key)) for group, key in COLUMNS) + " |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
