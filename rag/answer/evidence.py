"""Sentence evidence: how well one sentence of a retrieved passage answers a question.

Each candidate sentence gets a small feature vector; a linear model turns it
into a score. The weights were fitted by listwise logistic regression on
UIT-ViQuAD train fold 1 (``python -m evals.fit_answer sentences``; no test
set read), and are listed in ``evals/RESULTS.md``. They compare sentences of one question with each other:
a softmax over them is each sentence's chance of being the one that answers,
not whether any does. Abstention uses :func:`answerability`, a separate calibrated score.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

from ..index.lexical import KeywordIndex
from ..types import Query, Retrieved
from ..vietnamese import fold, match_key, syllables

FEATURES = ("unigram", "pair", "focus", "has_new", "lacks_new", "inv_rank", "rel_score", "short", "dense",
            "with_previous", "order")
WEIGHTS = np.array([3.794, 1.966, 0.692, 0.878, -0.878, 1.965, 3.765, -0.009, 0.314, 1.086, 0.984], dtype=np.float32)

_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*%?")
_DATE = re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|\b(?:ngày|tháng|năm|quý)\s+\d+|\b\d{4}\b", re.IGNORECASE)
# Capitalised words that open the name of an organisation, a title or a place, not of a person.
_NOT_PERSON = frozenset(
    """ban bộ sở tỉnh thành ủy uỷ hội trung đảng quốc chính văn cụm nghị kết thủ phó trưởng bí chủ thường
    tổng cục viện trường công tập nhà quân đại liên mặt tòa toà huyện xã phường thị khu vùng miền sông núi
    hồ biển đường phố chương đề luật quyết chỉ thông báo hiến học giáo bệnh""".split()
)
# Two to four capitalised syllables, not opened by one of those words: most likely a person.
_CAPITALISED = re.compile(r"\b[A-ZĐ][^\W\d_]*(?:\s+[A-ZĐ][^\W\d_]*){1,3}")


class _PersonNames:
    """``finditer`` over capitalised runs that do not start like an organisation or title."""

    @staticmethod
    def finditer(text: str):
        for m in _CAPITALISED.finditer(text):
            if m.group(0).split()[0].lower() not in _NOT_PERSON:
                yield m


FINDERS = {"number": _NUMBER, "date": _DATE, "name": _PersonNames}

# Question words: the syllables around them are the question's focus.
_WH = frozenset("ai gì nào đâu bao nhiêu mấy sao gi nao dau nhieu may".split())


def has_new(pattern, text: str, question_key: str) -> bool:
    """Does ``text`` hold a match of ``pattern`` that the question does not already contain?"""
    folded_question = fold(question_key)
    return any(
        not (question_key and fold(match_key(m.group(0))) in folded_question) for m in pattern.finditer(text)
    )


@dataclass(frozen=True)
class Question:
    """A question analysed once: its weighted terms, pairs, focus and expected answer kind."""

    text: str
    folded: bool
    terms: frozenset[str]
    sequence: tuple[str, ...]  # the terms in question order, repeats kept
    idf: dict[str, float]
    pairs: tuple[tuple[str, str], ...]
    focus: frozenset[str]
    wants: str | None
    key: str

    @classmethod
    def of(cls, query: Query, keywords: KeywordIndex) -> Question:
        """The evidence view of an analysed query: IDF weights from the corpus, the focus around the question word."""
        folded, terms, all_syllables = query.folded, list(query.terms), query.syllables
        field = keywords.unigrams(folded)
        near_wh = {
            all_syllables[j]
            for i, t in enumerate(all_syllables) if t in _WH
            for j in range(max(0, i - 3), min(len(all_syllables), i + 4))
        }
        focus = frozenset(t for t in terms if t in near_wh) or frozenset(terms)
        idf = {t: field.idf(t) for t in terms}
        return cls(query.text, folded, frozenset(terms), tuple(terms), idf, query.pairs, focus, query.wants, query.key)

    def coverage(self, terms: frozenset[str], present: set[str]) -> float:
        total = sum(self.idf[t] for t in terms)
        return sum(self.idf[t] for t in terms if t in present) / total if total else 0.0

    # per question, not per sentence (a frozen dataclass still takes cached_property's writes)
    @functools.cached_property
    def pair_weights(self) -> dict[tuple[str, str], float]:
        """A pair weighs what its content syllables weigh; question and function words weigh nothing."""
        return {p: self.idf.get(p[0], 0.0) + self.idf.get(p[1], 0.0) for p in self.pairs}

    @functools.cached_property
    def _sequence_weight(self) -> float:
        return sum(self.idf[t] for t in self.sequence)

    def in_order(self, tokens: list[str]) -> float:
        """IDF share of the question's terms that ``tokens`` hold in the question's order.

        A weighted longest common subsequence: a question usually restates its answer
        sentence with the answer replaced by a question word, so word order survives.
        """
        total = self._sequence_weight
        matched = [t for t in tokens if t in self.terms]  # other tokens never extend the subsequence
        if not total or not matched:
            return 0.0
        previous = [0.0] * (len(matched) + 1)
        for term in self.sequence:
            current = [0.0] * (len(matched) + 1)
            for j, token in enumerate(matched, start=1):
                current[j] = previous[j - 1] + self.idf[term] if token == term else max(previous[j], current[j - 1])
            previous = current
        return previous[-1] / total


def features(q: Question, text: str, passage: Retrieved, top_score: float,
             tokens: list[str] | None = None, previous: list[str] | None = None) -> np.ndarray:
    """The feature vector of one sentence (order: :data:`FEATURES`).

    ``tokens``: ``syllables(text, folded=q.folded)`` when the caller has them already.
    ``previous``: the tokens of the sentence before it in the passage (None for the first):
    news prose often names the event in one sentence and gives the answer in the next.
    """
    toks = tokens if tokens is not None else syllables(text, folded=q.folded)
    present = set(toks)
    with_previous = q.coverage(q.terms, present | set(previous)) if previous is not None else 0.0
    unigram = q.coverage(q.terms, present)
    weight = q.pair_weights
    pair_weight = sum(weight.values())
    if pair_weight:
        sent_pairs = set(zip(toks, toks[1:]))
        pair = sum(w for p, w in weight.items() if p in sent_pairs) / pair_weight
    else:
        pair = unigram
    new = bool(q.wants) and has_new(FINDERS[q.wants], text, q.key)
    return np.array([
        unigram, pair, q.coverage(q.focus, present),
        float(new), float(bool(q.wants) and not new),
        1.0 / passage.rank, passage.score / top_score if top_score > 0 else 0.0,
        float(len(toks) < 5), passage.dense_score or 0.0, with_previous, q.in_order(toks),
    ], dtype=np.float32)


def answerability(best: np.ndarray, passages: list[Retrieved]) -> float:
    """Confidence that the best sentence answers, from signals that do not depend on corpus size.

    Logistic model over the best sentence's unigram and pair coverage and the
    highest dense cosine among the passages; fitted on UIT-ViQuAD train fold 1,
    each question asked with and without its gold paragraph (``evals/fit_answer.py``).
    """
    cosine = max((p.dense_score or 0.0) for p in passages) if passages else 0.0
    b0, b_uni, b_pair, b_cos = ANSWERABILITY
    z = b0 + b_uni * float(best[0]) + b_pair * float(best[1]) + b_cos * cosine
    return 1.0 / (1.0 + math.exp(-z))


# intercept, unigram coverage, pair coverage, best dense cosine
ANSWERABILITY = (-14.268, 4.798, 2.358, 11.307)


__all__ = ["FEATURES", "WEIGHTS", "Question", "answerability", "features"]
