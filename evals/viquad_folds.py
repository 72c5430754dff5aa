"""Split UIT-ViQuAD train into folds by article, for choices made on training data only (issue 28).

Each of the 138 articles goes to one fold, by a hash of its title (stable whatever the file order).
Written under ``bench_out/viquad_folds/`` (git-ignored: the data's licence forbids redistribution):
``fold{i}.json.xz`` (that fold's articles, SQuAD format) and ``without{i}.json.xz`` (every other
fold: training data for a reader that never saw fold i)::

    .venv/bin/python -m evals.viquad_folds
    virag reader train bench_out/viquad_folds/without0.json.xz --out runs/reader_without0 \\
        --neg-retrieved 0.3 --unaccented 0.2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRAIN = ROOT.parent / "shared" / "bench" / "viquad_squad" / "train.json.xz"


def fold_of(title: str, folds: int) -> int:
    """The fold an article belongs to: a hash of its title, so adding articles moves none."""
    return int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) % folds


def split(data: dict, folds: int) -> list[list[dict]]:
    """The articles of ``data`` (SQuAD JSON) in ``folds`` lists."""
    parts: list[list[dict]] = [[] for _ in range(folds)]
    for article in data["data"]:
        parts[fold_of(article["title"], folds)].append(article)
    return parts


def _write(path: Path, version: str, articles: list[dict]) -> None:
    with lzma.open(path, "wt", encoding="utf-8") as fh:
        json.dump({"version": version, "data": articles}, fh, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.viquad_folds", description=__doc__.split("\n\n")[0])
    p.add_argument("-t", "--train", type=Path, default=DEFAULT_TRAIN, help="UIT-ViQuAD train, SQuAD JSON (.xz)")
    p.add_argument("-o", "--out", type=Path, default=ROOT / "bench_out" / "viquad_folds")
    p.add_argument("-k", "--folds", type=int, default=5)
    args = p.parse_args(argv)
    if not args.train.is_file():
        print(f"Error: {args.train} not found (UIT-ViQuAD train in SQuAD JSON).", file=sys.stderr)
        return 1
    opener = lzma.open if args.train.suffix == ".xz" else open
    with opener(args.train, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    parts = split(data, args.folds)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts):
        rest = [a for j, other in enumerate(parts) if j != i for a in other]
        _write(args.out / f"fold{i}.json.xz", data.get("version", ""), part)
        _write(args.out / f"without{i}.json.xz", data.get("version", ""), rest)
        questions = sum(len(par["qas"]) for a in part for par in a["paragraphs"])
        print(f"fold {i}: {len(part)} articles, {questions} questions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
