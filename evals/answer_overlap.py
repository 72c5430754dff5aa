"""``exact_match`` and ``answer_f1``: SQuAD's span metrics on the short answer, after Vietnamese normalisation.

A prediction is the answer's ``short_answer`` when it has one, else its text without the ``[n]``
markers. Both are normalised as SQuAD normalises English, adapted: NFC, one tone-mark placement,
case-folded, punctuation removed, whitespace collapsed (Vietnamese has no articles to drop). F1 is
over syllables (space-separated tokens), the best over the gold answers. Answerable questions only;
an abstention scores 0.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from rag.vietnamese import match_key

from .ranking import check_lengths, mean

_MARKER = re.compile(r"\s*\[\d{1,3}\]")


def normalise(text: str) -> str:
    """``match_key`` without punctuation: 'Thanh Hoá,' → 'thanh hoá'."""
    key = match_key(_MARKER.sub("", text))
    return " ".join("".join(ch if not unicodedata.category(ch).startswith("P") else " " for ch in key).split())


def exact_match(prediction: str, gold: Sequence[str]) -> float:
    p = normalise(prediction)
    return float(any(p == normalise(g) for g in gold if g.strip()))


def f1(prediction: str, gold: Sequence[str]) -> float:
    predicted = normalise(prediction).split()
    best = 0.0
    for g in gold:
        truth = normalise(g).split()
        common = sum((Counter(predicted) & Counter(truth)).values())
        if common:
            precision, recall = common / len(predicted), common / len(truth)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


class SpanOverlapEvaluator:
    """Mean exact match and F1 of the predictions over answerable questions.

    Example::

        result = SpanOverlapEvaluator().run(["Thanh Hoá", "tỉnh Nghệ An", ""], [["Thanh Hóa"], ["Nghệ An"], ["Huế"]],
                                            [False, False, True])
        result["exact_match"], round(result["answer_f1"], 4)     # 0.3333, 0.6
    """

    def run(self, predictions: Sequence[str], ground_truth_answers: Sequence[Sequence[str]],
            abstained: Sequence[bool]) -> dict:
        check_lengths(predictions=predictions, ground_truth_answers=ground_truth_answers, abstained=abstained)
        em = [0.0 if off else exact_match(p, g) for p, g, off in zip(predictions, ground_truth_answers, abstained)]
        f = [0.0 if off else f1(p, g) for p, g, off in zip(predictions, ground_truth_answers, abstained)]
        return {"exact_match": mean(em), "answer_f1": mean(f), "individual_em": em, "individual_f1": f}
