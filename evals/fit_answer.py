"""Fit the answer stage on UIT-ViQuAD train folds only (issue 28): the sentence scorer's weights and its
answerability, then the decision between the reader and the sentence scorer, each choice made by
cross-validation over articles. No test set (seed dev, ViQuAD dev, legal dev) is read here.

    .venv/bin/python -m evals.fit_answer sentences bench_out/viquad_folds/sentences1.jsonl
    .venv/bin/python -m evals.fit_answer decision bench_out/viquad_folds/signals0.jsonl \\
        --write rag/answer/weights/decision.json

The inputs come from ``evals/answer_signals.py`` (``--sentences`` for the first). The sentence scorer is
fitted on fold 1, the decision on fold 0 (asked with a reader that never saw fold 0), so the decision
sees the sentence scorer as it behaves on questions it was not fitted on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

# What a choice is worth: a right answer where the documents answer, and a refusal where they do not
# (the gold paragraph removed) count alike; refusing an answerable question may cost no more than this.
# (A cap of 170 characters on the median answer was tried: on the folds it forces the reader's form on
# 95% of questions and costs 0.07 accuracy, so length is reported, not constrained.)
FALSE_ABSTENTION_CAP = 0.05
INNER_FOLDS = 5


def inner_fold(article: str) -> int:
    return int(hashlib.sha1(article.encode()).hexdigest(), 16) % INNER_FOLDS


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _logistic(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Intercept and weights of an L2 logistic regression on raw features (standardised while fitting)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
    w = model.coef_[0] / scale
    return np.concatenate([[model.intercept_[0] - float(w @ mean)], w])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def utility(correct_normal: np.ndarray, abstain_normal: np.ndarray, abstain_removed: np.ndarray) -> dict:
    return {"accuracy": float(correct_normal.mean()), "false_abstention": float(abstain_normal.mean()),
            "removed_abstention": float(abstain_removed.mean()),
            "utility": float(correct_normal.mean() + abstain_removed.mean())}


def best_threshold(grid, evaluate) -> float:
    """The grid value with the best utility whose false abstention stays under the cap."""
    scored = [(evaluate(t), t) for t in grid]
    allowed = [(u["utility"], t) for u, t in scored if u["false_abstention"] <= FALSE_ABSTENTION_CAP]
    return max(allowed)[1] if allowed else min(grid)


# -- the sentence scorer -----------------------------------------------------------------------------
def listwise(rows: list[dict], l2: float = 1e-3) -> np.ndarray:
    """Weights of a softmax over each question's sentences, fitted to put the answering ones first."""
    from scipy.optimize import minimize

    groups = [(np.array(r["features"], dtype=np.float64), np.array(r["labels"], dtype=bool)) for r in rows
              if not r["gold_removed"] and any(r["labels"]) and len(r["labels"]) > 1]

    def loss(w):
        total, grad = 0.0, np.zeros_like(w)
        for x, pos in groups:
            s = x @ w
            s -= s.max()
            p = np.exp(s)
            p /= p.sum()
            q = p * pos
            qs = q.sum()
            total -= np.log(qs)
            grad -= (q / qs - p) @ x
        n = len(groups)
        return total / n + l2 * float(w @ w), grad / n + 2 * l2 * w

    w0 = np.zeros(len(groups[0][0][0]))
    return minimize(loss, w0, jac=True, method="L-BFGS-B").x


def _best_rows(rows: list[dict], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per question: (unigram, pair, cosine) of the top-scored sentence, and whether it answers."""
    feats, labels = [], []
    for r in rows:
        x = np.array(r["features"], dtype=np.float64)
        if not len(x):
            feats.append([0.0, 0.0, r["cosine"]])
            labels.append(False)
            continue
        j = int(np.argmax(x @ weights))
        feats.append([x[j, 0], x[j, 1], r["cosine"]])
        labels.append(bool(r["labels"][j]))
    return np.array(feats), np.array(labels)


def fit_sentences(rows: list[dict]) -> dict:
    from rag.answer.evidence import ANSWERABILITY, WEIGHTS

    report = {"old": [], "new": []}
    for k in range(INNER_FOLDS):
        train = [r for r in rows if inner_fold(r["article"]) != k]
        test = [r for r in rows if inner_fold(r["article"]) == k and not r["gold_removed"]]
        w = listwise(train)
        for name, weights in (("old", WEIGHTS.astype(np.float64)), ("new", w)):
            _, ok = _best_rows(test, weights)
            report[name].append(float(ok.mean()))
    weights = listwise(rows)
    x, y = _best_rows(rows, weights)
    answerability = _logistic(x, y, c=10.0)
    removed = np.array([r["gold_removed"] for r in rows])
    chance = _sigmoid(x @ answerability[1:] + answerability[0])

    def evaluate_on(mask: np.ndarray, t: float) -> dict:
        answered = chance >= t
        return utility((answered & y)[mask & ~removed], ~answered[mask & ~removed], ~answered[mask & removed])

    # the threshold by the same CV: chosen on four parts of the articles, scored on the fifth
    grid = np.round(np.arange(0.02, 0.9, 0.02), 2)
    everything = np.ones(len(rows), dtype=bool)
    cv = []
    for k in range(INNER_FOLDS):
        part = np.array([inner_fold(r["article"]) == k for r in rows])
        t = best_threshold(grid, lambda t, m=~part: evaluate_on(m, t))
        cv.append({"threshold": float(t), **evaluate_on(part, t)})
    threshold = best_threshold(grid, lambda t: evaluate_on(everything, t))
    old_x, old_y = _best_rows(rows, WEIGHTS.astype(np.float64))
    old_answered = _sigmoid(old_x @ np.array(ANSWERABILITY[1:]) + ANSWERABILITY[0]) >= 0.3
    return {
        "weights": [round(float(v), 3) for v in weights],
        "answerability": [round(float(v), 3) for v in answerability],
        "abstain_threshold": float(threshold),
        "cv_best_sentence_right": {k: round(float(np.mean(v)), 4) for k, v in report.items()},
        "cv_threshold": cv, "cv_mean": _mean(cv), "all": evaluate_on(everything, threshold),
        "old_weights_at_0.3": utility((old_answered & old_y)[~removed], ~old_answered[~removed],
                                      ~old_answered[removed]),
    }


def _mean(rows: list[dict]) -> dict:
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0] if k != "threshold"}


# -- the decision ------------------------------------------------------------------------------------
ABSTAIN_GRID = np.round(np.arange(0.01, 0.6, 0.005), 3)
READER_WITHIN_GRID = (-0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def _decision_arrays(rows: list[dict]):
    from rag.answer.decision import SIGNALS

    x = np.array([[r["signals"][name] for name in SIGNALS] for r in rows], dtype=np.float64)
    return (x, np.array([r["reader"]["correct"] for r in rows]), np.array([r["sentences"]["correct"] for r in rows]),
            np.array([r["gold_removed"] for r in rows]), np.array([r["reader"]["chars"] for r in rows]),
            np.array([r["sentences"]["chars"] for r in rows]), np.array([r["signals"]["has_span"] > 0 for r in rows]))


def _choose(pr, ps, has_span, abstain_below, reader_within):
    """0 neither, 1 reader, 2 sentences: :meth:`rag.answer.decision.Decision.choose` over arrays."""
    pr = np.where(has_span, pr, 0.0)
    choice = np.where(has_span & ((ps < abstain_below) | (pr >= ps - reader_within)), 1, 2)
    return np.where(np.maximum(pr, ps) < abstain_below, 0, choice)


def _score(choice, yr, ys, removed, cr, cs) -> dict:
    right = np.where(choice == 1, yr, np.where(choice == 2, ys, False))
    chars = np.where(choice == 1, cr, cs)[(choice > 0) & ~removed]
    return {**utility(right[~removed], (choice == 0)[~removed], (choice == 0)[removed]),
            "reader_share": float((choice == 1)[~removed].mean()),
            "median_chars": float(np.median(chars)) if len(chars) else 0.0}


def _fit_on(rows_mask, x, yr, ys, removed, cr, cs, span, median_cap: float | None = None):
    """Both models fitted on ``rows_mask``, and the thresholds with the best utility there whose false
    abstention (and, with ``median_cap``, median answer length) stays under the caps; ValueError when none does."""
    wr, ws = _logistic(x[rows_mask], yr[rows_mask]), _logistic(x[rows_mask], ys[rows_mask])
    pr, ps = _sigmoid(x @ wr[1:] + wr[0]), _sigmoid(x @ ws[1:] + ws[0])
    best = None
    for within in READER_WITHIN_GRID:
        for t in ABSTAIN_GRID:
            m = rows_mask
            u = _score(_choose(pr[m], ps[m], span[m], t, within), yr[m], ys[m], removed[m], cr[m], cs[m])
            if u["false_abstention"] > FALSE_ABSTENTION_CAP or (median_cap and u["median_chars"] > median_cap):
                continue
            if best is None or u["utility"] > best[0]:
                best = (u["utility"], t, within)
    if best is None:
        raise ValueError("no thresholds meet the caps")
    _, t, within = best
    return wr, ws, float(t), float(within), pr, ps


def _single(score, y, removed, chars, mask, grid) -> tuple[float, dict]:
    """One answerer alone with its own threshold, chosen like the decision's (for the comparison)."""
    def at(t, m):
        answered = score[m] >= t
        right = answered & y[m]
        out = utility(right[~removed[m]], ~answered[~removed[m]], ~answered[removed[m]])
        given = chars[m][answered & ~removed[m]]
        return {**out, "median_chars": float(np.median(given)) if len(given) else 0.0}

    allowed = [(at(t, mask)["utility"], t) for t in grid if at(t, mask)["false_abstention"] <= FALSE_ABSTENTION_CAP]
    t = max(allowed)[1]
    return float(t), at


def _right_above(pr, ps, span, t, within, yr, ys) -> dict:
    """How often an answer given with at least this chance is right (all lines: a gold-removed answer is wrong),
    for the chat's "sure" label."""
    choice = _choose(pr, ps, span, t, within)
    chance = np.where(choice == 1, pr, ps)
    right = np.where(choice == 1, yr, ys)
    out = {}
    for c in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9):
        m = (choice > 0) & (chance >= c)
        out[str(c)] = {"share": round(float(m.mean()), 4), "right": round(float(right[m].mean()), 4) if m.any() else None}
    return out


def _held_arrays(rows: list[dict], ys, cs):
    """The scorer's answer cut to the quote that holds the reader's span, where the lines record one (else
    the whole answer): right, characters; and each line's supported and given citations per form."""
    held = [r.get("held") for r in rows]
    yh = np.array([h["correct"] if h else y for h, y in zip(held, ys)])
    ch = np.array([h["chars"] if h else c for h, c in zip(held, cs)])
    cited = {form: (np.array([sum(r[form]["cited_ok"]) for r in rows]), np.array([len(r[form]["cited_ok"]) for r in rows]))
             for form in ("reader", "sentences")}
    cited["held"] = (np.array([sum((h or r["sentences"])["cited_ok"]) for h, r in zip(held, rows)]),
                     np.array([len((h or r["sentences"])["cited_ok"]) for h, r in zip(held, rows)]))
    return yh, ch, cited


def _citation_precision(choice, removed, cited, sentence_form: str) -> float:
    """Supported citations over given ones, answered questions with their paragraph (as the eval counts)."""
    given = (choice > 0) & ~removed
    ok = np.where(choice == 1, cited["reader"][0], cited[sentence_form][0])[given].sum()
    total = np.where(choice == 1, cited["reader"][1], cited[sentence_form][1])[given].sum()
    return float(ok / total) if total else 0.0


def fit_decision(rows: list[dict]) -> dict:
    x, yr, ys, removed, cr, cs, span = _decision_arrays(rows)
    has_held = any(r.get("held") is not None for r in rows)
    if has_held:
        yh, ch, cited = _held_arrays(rows, ys, cs)
    parts = np.array([inner_fold(r["article"]) for r in rows])
    margin = x[:, 0]
    from rag.answer.decision import SIGNALS

    answerability = x[:, SIGNALS.index("answerability")]
    cv = {"combined": [], "reader": [], "sentences": []}
    if has_held:
        cv["combined_held"] = []
    for k in range(INNER_FOLDS):
        train, test = parts != k, parts == k
        wr, ws, t, within, pr, ps = _fit_on(train, x, yr, ys, removed, cr, cs, span)
        choice = _choose(pr[test], ps[test], span[test], t, within)
        cv["combined"].append({"threshold": t, "reader_within": within,
                               **_score(choice, yr[test], ys[test], removed[test], cr[test], cs[test])})
        if has_held:  # the same decision, the scorer's answer cut to the quote holding the reader's span
            part = {form: (ok[test], n[test]) for form, (ok, n) in cited.items()}
            cv["combined"][-1]["citation_precision"] = _citation_precision(choice, removed[test], part, "sentences")
            cv["combined_held"].append({"threshold": t, "reader_within": within,
                                        **_score(choice, yr[test], yh[test], removed[test], cr[test], ch[test]),
                                        "citation_precision": _citation_precision(choice, removed[test], part, "held")})
        for name, score, y, chars, grid in (("reader", margin, yr, cr, np.arange(-6, 10, 0.25)),
                                            ("sentences", answerability, ys, cs, np.arange(-6, 4, 0.1))):
            t1, at = _single(score, y, removed, chars, train, grid)
            cv[name].append({"threshold": round(t1, 3), **at(t1, test)})
    everything = np.ones(len(rows), dtype=bool)
    wr, ws, t, within, pr, ps = _fit_on(everything, x, yr, ys, removed, cr, cs, span)
    decision = {"signals": list(SIGNALS), "reader": [round(float(v), 4) for v in wr],
                "sentences": [round(float(v), 4) for v in ws], "abstain_below": t, "reader_within": within,
                "fitted_on": f"{len(rows)} lines of evals/answer_signals.py (UIT-ViQuAD train fold 0, normal and "
                             "gold removed, a reader that never saw the fold); thresholds by evals/fit_answer.py"}
    report = {"rows": len(rows), "questions": int((~removed).sum()),
              "articles": len({r['article'] for r in rows}),
              "cv": {k: _mean(v) for k, v in cv.items()}, "cv_parts": cv,
              "all": _score(_choose(pr, ps, span, t, within), yr, ys, removed, cr, cs),
              "oracle": float((yr | ys)[~removed].mean()), "right_above": _right_above(pr, ps, span, t, within, yr, ys)}
    return {"decision": decision, "report": report}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.fit_answer", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["sentences", "decision"])
    p.add_argument("signals", type=Path)
    p.add_argument("--write", type=Path, help="where the fitted decision is written (JSON)")
    args = p.parse_args(argv)
    rows = _read(args.signals)
    if args.what == "sentences":
        print(json.dumps(fit_sentences(rows), indent=1))
        return 0
    fitted = fit_decision(rows)
    print(json.dumps(fitted["report"], indent=1))
    if args.write:
        args.write.write_text(json.dumps(fitted["decision"], indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
