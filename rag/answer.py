"""Answer: pick the sentences of the retrieved passages that answer, cite each one, or abstain.

No LLM: sentences are scored by how much of the question's (IDF-weighted)
syllables and syllable pairs they contain, with a bonus when they hold what the
question asks for (a number, a date, a name), and a prior for the passage rank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .config import Settings
from .lexical import KeywordIndex, query_terms
from .retriever import Retrieval, Retrieved
from .store import StoredIndex
from .vietnamese import fold, match_key, syllables

ABSTAIN_TEXT = "Tài liệu không có thông tin để trả lời câu hỏi này."

_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*%?")
_DATE = re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|\b(?:ngày|tháng|năm|quý)\s+\d+|\b\d{4}\b", re.IGNORECASE)
# Two to four capitalised syllables: a person, place or organisation name.
_NAME = re.compile(r"\b[A-ZĐ][^\W\d_]*(?:\s+[A-ZĐ][^\W\d_]*){1,3}")
_FINDERS = {"number": _NUMBER, "date": _DATE, "name": _NAME}


@dataclass(frozen=True)
class Citation:
    """``[n]`` in the answer text: an exact span of a source document."""

    n: int
    source: str
    start: int
    end: int
    quote: str
    score: float


@dataclass
class Answer:
    """What :meth:`rag.Assistant.ask` returns."""

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    passages: list[Retrieved]
    confidence: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "citations": [c.__dict__ for c in self.citations],
            "passages": [
                {"rank": p.rank, "source": p.chunk.source, "start": p.chunk.start, "end": p.chunk.end,
                 "score": round(p.score, 6), "text": p.chunk.text}
                for p in self.passages
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class _Sentence:
    passage: Retrieved
    index: int  # position within the chunk
    start: int
    end: int
    text: str
    score: float


def _wants(question: str) -> str | None:
    q = question.lower()
    if re.search(r"bao nhiêu|mấy|how many|how much|số lượng|bao nhieu|\bmay\b", q):
        return "number"
    if re.search(r"ngày nào|khi nào|năm nào|tháng nào|bao giờ|lúc nào|when|ngay nao|khi nao|nam nao", q):
        return "date"
    if re.search(r"^ai\b|\bai\b|who|đồng chí nào|người nào", q):
        return "name"
    return None


def _has_new(pattern: re.Pattern, text: str, question_key: str) -> bool:
    """Does ``text`` hold a match of ``pattern`` that the question does not contain?"""
    for m in pattern.finditer(text):
        found = match_key(m.group(0))
        if question_key and fold(found) in fold(question_key):
            continue
        return True
    return False


class ExtractiveAnswerer:
    """Answers from the retrieved passages without an LLM.

    Example::

        answerer = ExtractiveAnswerer(settings, retriever.keywords)
        answer = answerer.run("Cụm thi đua số 2 gồm những tỉnh nào?", retrieval)
        answer.text        # '… Lạng Sơn, Quảng Ninh, …, Hà Tĩnh. [1]'
    """

    def __init__(self, settings: Settings, index: StoredIndex, keywords: KeywordIndex) -> None:
        self.settings = settings
        self.index = index
        self.keywords = keywords

    def _terms(self, question: str) -> tuple[list[str], bool, dict[str, float]]:
        field, folded = self.keywords.field(question)
        terms = query_terms(question, folded)
        return terms, folded, {t: field.idf(t) for t in terms}

    def score_sentence(self, text: str, terms: list[str], folded: bool, idf: dict[str, float], wants: str | None,
                       question_key: str = "") -> float:
        if not terms:
            return 0.0
        toks = syllables(text, folded=folded)
        present = set(toks)
        total = sum(idf[t] for t in set(terms)) or 1.0
        uni = sum(idf[t] for t in set(terms) if t in present) / total
        pairs = list(zip(terms, terms[1:]))
        if pairs:
            sent_pairs = set(zip(toks, toks[1:]))
            weight = sum(idf[a] + idf[b] for a, b in pairs)
            bi = sum(idf[a] + idf[b] for a, b in pairs if (a, b) in sent_pairs) / weight
        else:
            bi = uni
        score = 0.65 * uni + 0.35 * bi
        if wants:
            # An answer brings something the question does not already say.
            score += 0.12 if _has_new(_FINDERS[wants], text, question_key) else -0.05
        if len(toks) < 5:
            score *= 0.7  # headings and captions rarely answer
        return score

    def run(self, question: str, retrieval: Retrieval) -> Answer:
        s = self.settings
        terms, folded, idf = self._terms(question)
        wants = _wants(question)
        qkey = match_key(fold(question)) if folded else match_key(question)
        candidates: list[_Sentence] = []
        for p in retrieval.passages[: s.answer_passages]:
            prior = 1.0 - 0.04 * (p.rank - 1)
            for i, (start, end) in enumerate(p.chunk.sentences):
                text = self.index.quote(p.chunk.source, start, end)
                sc = self.score_sentence(text, terms, folded, idf, wants, qkey) * prior
                candidates.append(_Sentence(p, i, start, end, text, sc))
        candidates.sort(key=lambda c: -c.score)
        best = candidates[0].score if candidates else 0.0
        if best < s.abstain_threshold:
            return Answer(question, ABSTAIN_TEXT, [], True, retrieval.passages, confidence=best)
        chosen = [candidates[0]]
        for c in candidates[1:]:
            if len(chosen) >= s.max_answer_sentences or c.score < 0.85 * best:
                break
            if all(c.text != x.text for x in chosen):
                chosen.append(c)
        return self._render(question, chosen, retrieval, best)

    def _render(self, question: str, chosen: list[_Sentence], retrieval: Retrieval, confidence: float) -> Answer:
        # Keep each passage's sentences in reading order; adjacent ones become one quote.
        chosen.sort(key=lambda c: (c.passage.rank, c.index))
        groups: list[list[_Sentence]] = []
        for c in chosen:
            if groups and groups[-1][-1].passage is c.passage and groups[-1][-1].index + 1 == c.index:
                groups[-1].append(c)
            else:
                groups.append([c])
        groups.sort(key=lambda g: -max(c.score for c in g))
        citations, parts = [], []
        for n, g in enumerate(groups, start=1):
            source, start, end = g[0].passage.chunk.source, g[0].start, g[-1].end
            quote = self.index.quote(source, start, end)
            citations.append(Citation(n, source, start, end, quote, round(max(c.score for c in g), 4)))
            parts.append(f"{' '.join(quote.split())} [{n}]")
        return Answer(question, " ".join(parts), citations, False, retrieval.passages, confidence=confidence)
