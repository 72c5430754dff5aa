"""Benchmark on the UIT-ViQuAD 1.0 development split (a script, not a test).

Reads the converted split from ``../shared/bench/viquad_dev/`` (515 passages in ``corpus/``,
2,285 questions in ``questions.jsonl``; research-only licence: it is read in place and never
copied into the repository) and runs it through ``virag eval``, writing the JSON, the Markdown
report and the plots under the git-ignored ``bench_out/viquad_dev/``.

Usage::

    .venv/bin/python -m evals.bench_viquad              # all 2,285 questions
    .venv/bin/python -m evals.bench_viquad --limit 200  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "viquad_dev"
DEFAULT_OUT = ROOT / "bench_out" / "viquad_dev"
# Measured on this split by the data's README (multilingual-e5-small, bm25s, 515 passages).
BASELINES = {"BM25": {"doc_ndcg@10": 0.835}, "dense": {"doc_ndcg@10": 0.814},
             "RRF(BM25, dense)": {"doc_ndcg@10": 0.866, "doc_recall@5": 0.940, "doc_recall@1": 0.744}}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evals.bench_viquad", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--limit", type=int, help="the first N questions only (default: all)")
    p.add_argument("-k", "--k", type=int, default=10, help="passages retrieved per question (default: 10)")
    p.add_argument("-d", "--data", type=Path, default=Path(os.environ.get("VIRAG_VIQUAD_DIR", DEFAULT_DATA)),
                   help=f"the converted split (default: $VIRAG_VIQUAD_DIR or {DEFAULT_DATA})")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("-i", "--index", help="index folder (default: the cache folder keyed by the corpus path)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting of rag.Settings (repeatable); passed to `virag eval`")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    questions, corpus = args.data / "questions.jsonl", args.data / "corpus"
    if not questions.is_file() or not corpus.is_dir():
        print(f"Error: ViQuAD dev split not found at {args.data} (expected questions.jsonl and corpus/); "
              "pass --data DIR or set VIRAG_VIQUAD_DIR.", file=sys.stderr)
        return 1
    out = args.out.resolve()
    if out == ROOT or ROOT in out.parents and not (out.relative_to(ROOT).parts[0] == "bench_out"):
        print(f"Warning: {out} is inside the repository but not under bench_out/ (git-ignored).", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "viquad_dev.json"
    eval_argv = [str(questions), "--corpus", str(corpus), "--k", str(args.k), "--json", str(json_path),
                 "--report", str(out / "viquad_dev.md"), "--plots", str(out / "plots")]
    if args.limit:
        eval_argv += ["--limit", str(args.limit)]
    if args.index:
        eval_argv += ["--index", args.index]
    if args.quiet:
        eval_argv.append("--quiet")
    for pair in args.set:
        eval_argv += ["--set", pair]

    from .cli import main as virag_eval

    code = virag_eval(eval_argv)
    if code:
        return code
    result = json.loads(json_path.read_text(encoding="utf-8"))
    r, a, lat = result["retrieval"], result["answer"], result["latency_ms"]
    print(f"\nViQuAD dev, {result['n_questions']} questions: doc_ndcg@10 {r['doc_ndcg@10']:.3f}, "
          f"doc_recall@5 {r['doc_recall@5']:.3f}, doc_recall@1 {r['doc_recall@1']:.3f}, "
          f"accuracy {a['accuracy']:.3f}, latency_ms p50 {lat['p50']:.1f} / p95 {lat['p95']:.1f}")
    for name, scores in BASELINES.items():
        print(f"  baseline {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    print(f"Outputs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
