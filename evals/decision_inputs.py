"""Other inputs for the decision between the reader and the sentence scorer, and a cap on answer length,
scored by the same cross-validation as ``evals/fit_answer.py`` on the same lines (issue 28). Each input
comes from the ``raw`` record ``evals/answer_signals.py`` keeps beside the decision's own signals::

    .venv/bin/python -m evals.decision_inputs bench_out/viquad_folds/signals0d.jsonl

Nothing here is shipped; it says which inputs or caps would be worth adding, on training folds only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rag.answer.decision import MARGIN_CLIP

from . import fit_answer as fa


def _second_margin(raw) -> float:
    margins = sorted((m for _, m, _ in raw["reader"]), reverse=True)
    return max(-MARGIN_CLIP, min(MARGIN_CLIP, margins[1])) if len(margins) > 1 else -MARGIN_CLIP


# name → the input, from one line's raw record
INPUTS = {
    "fused": lambda raw: raw["fused"][0] if raw["fused"] else 0.0,
    "fused_gap": lambda raw: raw["fused"][0] - raw["fused"][1] if len(raw["fused"]) > 1 else 0.0,
    "keyword_rank": lambda raw: 1.0 / raw["keyword_rank"][0] if raw["keyword_rank"] and raw["keyword_rank"][0] else 0.0,
    "second_margin": _second_margin,
    "sentence_gap": lambda raw: raw["sentence_scores"][0] - raw["sentence_scores"][1] if len(raw["sentence_scores"]) > 1 else 3.0,
    "span_length": lambda raw: float(np.log1p(raw["reader"][0][2])) if raw["reader"] else 0.0,
}


def cv(rows: list[dict], extra: tuple[str, ...] = (), median_cap: float | None = None) -> dict:
    """Fold CV of the decision with ``extra`` inputs, its thresholds optionally chosen under a median cap."""
    x, yr, ys, removed, cr, cs, span = fa._decision_arrays(rows)
    if extra:
        x = np.hstack([x, np.array([[INPUTS[name](r["raw"]) for name in extra] for r in rows])])
    parts = np.array([fa.inner_fold(r["article"]) for r in rows])
    scores = []
    for k in range(fa.INNER_FOLDS):
        train, test = parts != k, parts == k
        try:
            _, _, t, within, pr, ps = fa._fit_on(train, x, yr, ys, removed, cr, cs, span, median_cap)
        except ValueError:
            return {}
        scores.append(fa._score(fa._choose(pr[test], ps[test], span[test], t, within), yr[test], ys[test],
                                removed[test], cr[test], cs[test]))
    return fa._mean(scores)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.decision_inputs", description=__doc__.split("\n\n")[0])
    p.add_argument("signals", type=Path)
    args = p.parse_args(argv)
    rows = fa._read(args.signals)
    trials = [("the decision's own signals", (), None)]
    trials += [(f"+ {name}", (name,), None) for name in INPUTS]
    trials += [(f"+ fused + {name}", ("fused", name), None) for name in INPUTS if name != "fused"]
    trials += [(f"median capped at {cap}", (), cap) for cap in (200, 185, 170)]
    print("| fold CV | accuracy | false abstention | gold removed abstains | median chars |\n|---|---:|---:|---:|---:|")
    for label, extra, cap in trials:
        m = cv(rows, extra, cap)
        if not m:
            print(f"| {label} | no thresholds meet the caps | | | |")
            continue
        print(f"| {label} | {m['accuracy']:.3f} | {m['false_abstention']:.3f} | {m['removed_abstention']:.3f} | "
              f"{m['median_chars']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
