"""Answer: pick the sentences of the retrieved passages that answer, cite each one, or abstain.

No LLM: every sentence of the top passages is scored from its evidence
features (``rag/answer/evidence.py``: IDF-weighted coverage of the question's
syllables and syllable pairs, whether it holds the kind of thing asked for, the
passage's rank and scores, how much of the question it holds in the question's
order). The best sentence is quoted verbatim; the next ones join while their
chance of being the answering sentence is worth their length.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..config import AnswerOptions
from ..index.lexical import KeywordIndex
from ..index.memory import StoredIndex
from ..types import Answer, Query, Retrieval, Retrieved
from ..vietnamese import syllables
from .cite import cite
from .protocol import Answerer
from .lists import completing_sentence
from .evidence import FEATURES, WEIGHTS, Question, answerability, features

ABSTAIN_TEXT = "Tài liệu không có thông tin để trả lời câu hỏi này."
# Answers are found by matching the question's words against Vietnamese text, so a question in
# another language finds no evidence; saying "the documents do not say" would mislead.
FOREIGN_TEXT = ("Câu hỏi có vẻ không phải tiếng Việt; câu trả lời được trích từ tài liệu tiếng Việt, "
                "hãy hỏi bằng tiếng Việt (có dấu hoặc không dấu). / This question does not look Vietnamese: "
                "answers are quoted from Vietnamese documents, so please ask in Vietnamese (diacritics optional).")

@dataclass(frozen=True)
class _Sentence:
    passage: Retrieved
    index: int  # position within the chunk
    start: int
    end: int
    text: str
    score: float


class SentenceAnswerer(Answerer):
    """Answers from the retrieved passages without an LLM, by quoting their best sentences.

    Example::

        answerer = SentenceAnswerer(settings.answer, index, retriever.keywords)
        answer = answerer.run(retriever.run(query))
        answer.text        # '… Lạng Sơn, Quảng Ninh, …, Hà Tĩnh. [1]'
    """

    name = "sentences"

    def __init__(self, options: AnswerOptions, index: StoredIndex, keywords: KeywordIndex) -> None:
        self.options = options
        self.index = index
        self.keywords = keywords

    def candidates(self, retrieval: Retrieval) -> tuple[list[_Sentence], np.ndarray]:
        """Every sentence of the passages read, and its evidence features (one row each, :data:`FEATURES`)."""
        q = Question.of(retrieval.query, self.keywords)
        passages = retrieval.readable(self.options.answer_passages)
        top_score = passages[0].score if passages else 0.0
        candidates: list[_Sentence] = []
        rows = []
        for p in passages:
            previous = None
            for i, (start, end) in enumerate(p.chunk.sentences):
                text = self.index.quote(p.chunk.source, start, end)
                tokens = syllables(text, folded=q.folded)
                rows.append(features(q, text, p, top_score, tokens, previous))
                previous = tokens
                candidates.append(_Sentence(p, i, start, end, text, 0.0))
        return candidates, np.vstack(rows) if rows else np.zeros((0, len(FEATURES)), dtype=np.float32)

    def run(self, retrieval: Retrieval) -> Answer:
        query = retrieval.query
        s = self.options
        question = query.text
        passages = retrieval.readable(s.answer_passages)
        candidates, matrix = self.candidates(retrieval)
        if not candidates:
            return abstention(query, retrieval, 0.0)
        scores = matrix @ WEIGHTS
        order = np.argsort(-scores, kind="stable")
        confidence = answerability(matrix[order[0]], passages)
        if confidence < s.abstain_threshold:
            return abstention(query, retrieval, confidence)
        best = float(scores[order[0]])
        has_new, lacks_new = FEATURES.index("has_new"), FEATURES.index("lacks_new")
        found = s.stop_at_answer and bool(matrix[order[0], has_new])  # a factoid question, answered
        picked = [int(order[0])] if found else self._worth_quoting(candidates, scores, order)
        # The question wants a name, number or date the picked sentences do not give: add the
        # best nearby sentence that does (news often names the event first, the answer next).
        if matrix[order[0], lacks_new] and not any(matrix[j, has_new] for j in picked):
            for j in order[1:]:
                if float(scores[j]) < best - s.completion_margin:
                    break
                if matrix[j, has_new]:
                    picked.append(int(j))
                    break
        # picked texts are distinct: a completing sentence has what every picked one lacks
        chosen = [replace(candidates[j], score=float(scores[j])) for j in picked]
        top = chosen[0]
        listing = completing_sentence(query, top.passage, [c.text for c in chosen], (top.start, top.end),
                                      self.index.quote)
        if listing:
            i = top.passage.chunk.sentences.index(listing)
            chosen.append(_Sentence(top.passage, i, *listing, self.index.quote(top.passage.chunk.source, *listing),
                                    top.score))
        return self._render(question, chosen, retrieval, confidence)

    def _worth_quoting(self, candidates: list[_Sentence], scores: np.ndarray, order: np.ndarray) -> list[int]:
        """The best sentence, then the next ones while their chance of being the answering one, per 100
        characters, reaches ``extra_sentence_chance``: the weights were fitted as a softmax over one
        question's sentences, so a sentence joins while what it adds to the chance of being right is
        worth its length. The same text twice (overlapping chunks) counts once."""
        s = self.options
        chance = np.exp(scores - scores[order[0]])
        chance /= chance.sum()
        picked, seen = [int(order[0])], {candidates[order[0]].text}
        for j in order[1:]:
            text = candidates[j].text
            if len(picked) >= s.max_answer_sentences:
                break
            if text in seen:
                continue
            if 100.0 * float(chance[j]) / len(text) < s.extra_sentence_chance:
                break
            picked.append(int(j))
            seen.add(text)
        return picked

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
        citations = [cite(self.index, n, g[0].passage.chunk.source, g[0].start, g[-1].end, max(c.score for c in g))
                     for n, g in enumerate(groups, start=1)]
        text = " ".join(f"{' '.join(c.quote.split())} [{c.n}]" for c in citations)
        return Answer(question=question, text=text, citations=citations, abstained=False,
                      passages=retrieval.passages, confidence=confidence)


def abstention(query: Query, retrieval: Retrieval, confidence: float = 0.0, answerer: str = "sentences") -> Answer:
    """'The documents do not say', with the closest passages; a question in another language is told so."""
    text = ABSTAIN_TEXT if query.vietnamese else FOREIGN_TEXT
    return Answer(question=query.text, text=text, citations=[], abstained=True, passages=retrieval.passages,
                  confidence=confidence, answerer=answerer)
