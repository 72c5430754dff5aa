"""The decision between the reader's answer and the sentence scorer's: which one is right, or neither.

Both answerers propose an answer for the same retrieval; :func:`signals` turns the pair into a few
numbers each already computes (the reader's margin over "no answer" and the rank of the passage it
answered from, the sentence scorer's answerability, the retrieval's best cosine and gap, whether the
two agree, the question's kind). Two logistic models read them: the chance the reader is right and
the chance the sentence scorer is. :meth:`Decision.choose` takes the reader when its chance is close
enough to the best (a shorter answer with exact offsets), the sentences when only they are likely,
and abstains when neither chance reaches the threshold.

Every number in ``weights/decision.json`` was fitted on UIT-ViQuAD train folds split by article,
with a reader that never saw the fold, and chosen by cross-validation there (``evals/fit_answer.py``);
no test set (seed dev, ViQuAD dev, legal dev) was used.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..types import Answer, Retrieval

DECISION_WEIGHTS = Path(__file__).with_name("weights") / "decision.json"

SIGNALS = ("margin", "has_span", "reader_first", "answerability", "cosine", "gap", "agree",
           "factoid", "explain", "list", "folded")
# a margin beyond this says nothing more (the reader's margins reach ±20 on sure cases)
MARGIN_CLIP = 12.0


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _overlaps(short, citations) -> bool:
    return any(c.source == short.source and c.start < short.end and short.start < c.end for c in citations)


def signals(retrieval: Retrieval, reader: Answer, sentences: Answer) -> dict[str, float]:
    """What the decision reads: both answers (given without thresholds) and the retrieval they came from."""
    query, passages = retrieval.query, retrieval.passages
    short = reader.short_answer
    margin = short.score if short is not None else -MARGIN_CLIP
    first = passages[0] if passages else None
    from_first = bool(short and first and first.chunk.source == short.source
                      and first.chunk.start <= short.start < first.chunk.end)
    scores = [p.score for p in passages]
    gap = (scores[0] - scores[1]) / scores[0] if len(scores) > 1 and scores[0] > 0 else 1.0
    return {
        "margin": max(-MARGIN_CLIP, min(MARGIN_CLIP, margin)),
        "has_span": float(short is not None),
        "reader_first": float(from_first),
        "answerability": _logit(sentences.confidence),
        "cosine": max((p.dense_score or 0.0) for p in passages) if passages else 0.0,
        "gap": gap,
        "agree": float(short is not None and _overlaps(short, sentences.citations)),
        "factoid": float(query.wants is not None),
        "explain": float(query.kind in ("why", "how")),
        "list": float(query.kind == "list"),
        "folded": float(query.folded),
    }


@dataclass(frozen=True)
class Decision:
    """Two logistic models over :data:`SIGNALS` and the two numbers that turn their chances into a choice.

    ``abstain_below``: neither chance reaches it → "the documents do not say". ``reader_within``: the
    reader's answer is taken while its chance is at most this far below the sentence scorer's.
    """

    reader: tuple[float, ...]  # intercept, then one weight per signal
    sentences: tuple[float, ...]
    abstain_below: float
    reader_within: float

    @classmethod
    def load(cls, path: str | Path = DECISION_WEIGHTS) -> Decision:
        return _load(str(path))

    def chances(self, found: dict[str, float]) -> tuple[float, float]:
        """The chance the reader's answer is right, and the sentence scorer's."""
        x = np.array([1.0, *(found[name] for name in SIGNALS)])
        r, s = float(x @ np.array(self.reader)), float(x @ np.array(self.sentences))
        return 1 / (1 + math.exp(-r)), 1 / (1 + math.exp(-s))

    def choose(self, found: dict[str, float], abstain_below: float | None = None) -> tuple[str, float]:
        """``("reader" | "sentences" | "neither", chance of the answer given)``."""
        pr, ps = self.chances(found)
        if not found["has_span"]:  # a reader without a span gives no answer, however sure it looks
            pr = 0.0
        threshold = self.abstain_below if abstain_below is None else abstain_below
        if max(pr, ps) < threshold:
            return "neither", max(pr, ps)
        # only an answer that reaches the threshold may be given
        if found["has_span"] and (ps < threshold or pr >= ps - self.reader_within):
            return "reader", pr
        return "sentences", ps


@cache
def _load(path: str) -> Decision:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    names = tuple(data["signals"])
    if names != SIGNALS:
        msg = f"{path}: fitted on signals {names}, this version computes {SIGNALS}; refit with evals/fit_answer.py"
        raise ValueError(msg)
    return Decision(tuple(data["reader"]), tuple(data["sentences"]), float(data["abstain_below"]),
                    float(data["reader_within"]))


__all__ = ["DECISION_WEIGHTS", "SIGNALS", "Decision", "signals"]
