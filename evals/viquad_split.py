"""Make an abstention benchmark from ViQuAD dev: questions asked of the wrong articles.

The 515 passages are split in two halves by file order (ViQuAD keeps an article's passages
together, so the halves share at most one article). The corpus is the second half, linked (not
copied: the data's licence forbids redistribution) under ``bench_out/viquad_split/corpus``.
Questions about the second half stay answerable; questions about the first half become
unanswerable (``match: none``). One ``virag eval`` run then measures both abstention recall and
false abstention::

    .venv/bin/python -m evals.viquad_split
    .venv/bin/python -m evals.sweep bench_out/viquad_split/questions.jsonl \\
        --corpus bench_out/viquad_split/corpus --config "t0.4: abstain_threshold=0.4"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "viquad_dev"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.viquad_split", description=__doc__.split("\n\n")[0])
    p.add_argument("-d", "--data", type=Path, default=Path(os.environ.get("VIRAG_VIQUAD_DIR", DEFAULT_DATA)))
    p.add_argument("-o", "--out", type=Path, default=ROOT / "bench_out" / "viquad_split")
    p.add_argument("--per-half", type=int, default=600, help="questions kept from each half (default: 600)")
    args = p.parse_args(argv)
    passages = sorted((args.data / "corpus").glob("*.txt"))
    if not passages:
        print(f"Error: no passages under {args.data / 'corpus'}", file=sys.stderr)
        return 1
    first = {f.name for f in passages[: len(passages) // 2]}
    corpus = args.out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for f in passages[len(passages) // 2 :]:
        link = corpus / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
    answerable, unanswerable = [], []
    with (args.data / "questions.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            if q["docs"][0] in first:
                q.update(answers=[], match="none", docs=[], evidence=[], answerable=False, kind="wrong-article")
                unanswerable.append(q)
            else:
                q["kind"] = "answerable"
                answerable.append(q)
    rows = answerable[: args.per_half] + unanswerable[: args.per_half]
    with (args.out / "questions.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in rows)
    print(f"{len(rows)} questions ({min(len(answerable), args.per_half)} answerable, "
          f"{min(len(unanswerable), args.per_half)} wrong-article) over {len(passages) - len(first)} passages "
          f"in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
