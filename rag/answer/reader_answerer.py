"""The reader's answer: the short answer first, then the sentence that holds it, cited.

The trained reader (``reader.py``) reads the top retrieved passages in one batched pass; the
passage whose best span beats its own "no answer" score by the most wins. Below a calibrated
margin the answer abstains and lists the closest passages instead.
"""

from __future__ import annotations

import math
import re

from ..config import ReaderOptions
from ..index.memory import StoredIndex
from ..types import Answer, Query, Retrieval, Retrieved, ShortAnswer
from .cite import cite
from .lists import completing_sentence
from .protocol import Answerer
from .reader import Reader
from .tables import TableView
from .sentences import abstention

# Why/how answers are explanations: the sentence holding the span and up to this many after it.
EXPLANATION_SENTENCES = 3
# Passages read first: when one of them answers surely (``reader_sure_margin``), the rest are not read.
FIRST_READ = 2
# Where a long sentence may be cut: after a comma, semicolon, colon or dash (the clauses of news prose).
_CLAUSE = re.compile(r"[,;:–—]\s+|\s+[–—-]\s+")


class ReaderAnswerer(Answerer):
    """Answers with the trained reader's span and the sentence around it.

    Example::

        answerer = ReaderAnswerer(settings.reader, index, Reader.load(base_folder))
        answer = answerer.run(retrieval)
        answer.short_answer.text      # '14 tỉnh'
        answer.text                   # '**14 tỉnh** — … gồm 14 tỉnh: Lạng Sơn, … [1]'
    """

    name = "reader"

    def __init__(self, options: ReaderOptions, index: StoredIndex, reader: Reader) -> None:
        self.options = options
        self.index = index
        self.reader = reader

    def read(self, query: Query, passages: list[Retrieved], *, sure: float = math.inf
             ) -> list[tuple[Retrieved, float, int, int]]:
        """Each passage with the reader's margin and its best span in document offsets, best first: by the
        margin plus ``reader_retrieval_weight`` × the passage's fused retrieval score (the reader sees one
        passage at a time; retrieval saw the whole corpus).

        With a finite ``sure``, the first :data:`FIRST_READ` passages are read alone, and the others only
        when none of them reaches that margin: the others are then left out of the result."""
        head = passages if math.isinf(sure) else passages[:FIRST_READ]
        found = self._spans(query, head)
        if not any(margin >= sure for _, margin, *_ in found):
            found += self._spans(query, passages[len(head):])
        weight = self.options.reader_retrieval_weight
        return sorted(found, key=lambda x: -(x[1] + weight * x[0].score))

    def _spans(self, query: Query, passages: list[Retrieved]) -> list[tuple[Retrieved, float, int, int]]:
        if not passages:
            return []
        views = [TableView.of(self.index.texts[p.chunk.source], p.chunk.start, p.chunk.end) for p in passages]
        # trained on accented questions: an unaccented one is read with its diacritics restored
        spans = self.reader.read(query.dense_text, [v.text for v in views], max_tokens=self.options.reader_answer_tokens)
        return [(p, s.margin, *v.source_span(s.start, s.end)) for p, s, v in zip(passages, spans, views)]

    def run(self, retrieval: Retrieval) -> Answer:
        s, query = self.options, retrieval.query
        read = self.read(query, retrieval.readable(s.reader_passages), sure=s.reader_sure_margin)
        if not read:
            return abstention(query, retrieval, answerer=self.name)
        passage, margin, start, end = read[0]
        confidence = 1.0 / (1.0 + math.exp(-(margin - s.reader_threshold)))
        if margin <= s.reader_threshold or end <= start:
            return abstention(query, retrieval, confidence, answerer=self.name)
        source = passage.chunk.source
        short = ShortAnswer(text=self.index.quote(source, start, end), source=source, start=start, end=end,
                            score=round(margin, 4))
        first, last = self._evidence(passage, start, end, query.kind)
        cut_first, cut_last = self._clauses(source, first, last, start, end, query.kind)
        citation = cite(self.index, 1, source, cut_first, cut_last, margin)
        quote, lead = " ".join(citation.quote.split()), " ".join(short.text.split())
        tail = "…" if cut_last < last else ""
        if quote.startswith(lead):  # the quote opens with the short answer: say it once
            text = f"**{lead}**{quote[len(lead):]}{tail} [1]"
        else:
            text = f"**{lead}** — {'…' if cut_first > first else ''}{quote}{tail} [1]"
        citations = [citation]
        listing = completing_sentence(query, passage, [citation.quote], (first, last), self.index.quote)
        if listing:
            citations.append(cite(self.index, 2, source, *listing, margin))
            text += f" {' '.join(citations[1].quote.split())} [2]"
        return Answer(question=query.text, text=text, citations=citations, abstained=False,
                      passages=retrieval.passages, confidence=confidence, answerer=self.name, short_answer=short)

    def _clauses(self, source: str, first: int, last: int, start: int, end: int, kind: str | None) -> tuple[int, int]:
        """A long sentence cut to the clauses around the short answer, at most ``reader_quote_chars``
        (a list or an explanation is quoted whole)."""
        limit = self.options.reader_quote_chars
        if last - first <= limit or kind in ("list", "why", "how"):
            return first, last
        text = self.index.quote(source, first, last)
        cuts = sorted({0, len(text), *(m.end() for m in _CLAUSE.finditer(text))})
        lo = max(c for c in cuts if c <= start - first)
        hi = min(c for c in cuts if c >= end - first)
        while True:  # grow by whole clauses, the shorter side first, while it fits
            left = max((c for c in cuts if c < lo), default=None)
            right = min((c for c in cuts if c > hi), default=None)
            options = [(hi - c, c, hi) for c in [left] if c is not None] + [(c - lo, lo, c) for c in [right] if c is not None]
            options = [o for o in options if o[0] <= limit]
            if not options:
                break
            _, lo, hi = min(options)
        clause = text[lo:hi]
        a = first + lo + (len(clause) - len(clause.lstrip()))
        b = first + lo + len(clause.rstrip(" ,;:–—-"))
        return a, max(b, end)

    @staticmethod
    def _evidence(passage: Retrieved, start: int, end: int, kind: str | None) -> tuple[int, int]:
        """The sentence(s) of the passage that hold ``[start, end)``; for why/how, the next ones too."""
        sentences = [(a, b) for a, b in passage.chunk.sentences if b > a]
        holding = [i for i, (a, b) in enumerate(sentences) if a < end and b > start]
        if not holding:  # a span outside any sentence span (headings joined to a paragraph)
            return start, end
        i, j = holding[0], holding[-1]
        if kind in ("why", "how"):
            j = max(j, min(len(sentences) - 1, i + EXPLANATION_SENTENCES - 1))
        return min(sentences[i][0], start), max(sentences[j][1], end)
