"""The data that flows between the stages: load → chunk → store → retrieve → answer → cite.

Plain keyword-only dataclasses with no behaviour beyond reading themselves, so any stage
can be swapped or tested alone. Offsets everywhere index :attr:`Document.text`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only
    import numpy as np

Span = tuple[int, int]  # [start, end) character offsets into a document's text


def page_at(pages: tuple[int, ...] | list[int], offset: int) -> int | None:
    """The 1-based page whose start offset is the last one ``<= offset``; None when ``pages`` is empty."""
    if not pages:
        return None
    return max(1, bisect_right(pages, offset))


@dataclass(frozen=True, kw_only=True)
class Document:
    """A source file's text.

    For ``.txt``/``.md``, ``text`` is the file decoded (BOM removed, line endings kept) and
    NFC-normalised: for a UTF-8 file in NFC, ``text[start:end]`` is exactly the file's characters.
    For ``.html``, ``.pdf`` and ``.docx`` it is the text extracted from the file (see
    :mod:`rag.ingest.formats`). ``pages`` holds the offset where each page starts (PDF only).
    """

    source: str  # path relative to the corpus root, with '/'
    text: str
    sha256: str
    pages: tuple[int, ...] = ()
    encoding: str = ""  # of a text file, as detected (utf-8, utf-16-le, cp1258, …)
    ocr_pages: tuple[int, ...] = ()  # 1-based pages of a PDF whose text came from OCR

    def page_of(self, offset: int) -> int | None:
        """The 1-based page holding ``text[offset]``, or None for a format without pages."""
        return page_at(self.pages, offset)


@dataclass(frozen=True)
class Step:
    """One level of where a chunk sits in a legal text: 'Chương III', 'Điều 35', or the khoản (điểm) it
    holds, one ('khoản 2') or a range ('khoản 2–4')."""

    kind: str  # the outline's kind: 'phan', 'chuong', 'muc', 'dieu', 'khoan', 'diem', 'ghichu', 'ket'
    number: str  # '35', '2', 'a' ('' for a kind without one)
    label: str  # 'Điều 35', 'khoản 2'
    last: str = ""  # a range's last number: '4' in 'khoản 2–4'

    def __str__(self) -> str:
        return f"{self.label}–{self.last}" if self.last else self.label


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A retrievable piece of one document, with its sentences' spans."""

    source: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]
    # legal texts: where the chunk sits (Chương III › Điều 35 › khoản 2) and the context embedded with
    # it (the document's title, the Chương, the Điều's heading when the chunk does not start with it)
    path: tuple[Step, ...] = ()
    heading: str = ""

    @property
    def section(self) -> str:
        """The path as people read it: 'Chương III › Điều 35 › khoản 2–4' (empty outside legal texts)."""
        return " › ".join(map(str, self.path))

    @property
    def indexed_text(self) -> str:
        """What is embedded and searched: the heading, then the text."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True)
class Reference:
    """What a question points at: an article, its clause and point, and words naming the document."""

    article: str | None = None  # '35'
    clause: str | None = None  # '2'
    point: str | None = None  # 'a' (folded: 'đ' reads 'd')
    document: tuple[str, ...] = ()  # folded words naming the document: ('bo', 'luat', 'lao', 'dong')

    def __bool__(self) -> bool:
        return bool(self.article)


@dataclass(frozen=True, kw_only=True)
class Query:
    """One question as every stage sees it.

    Made by the search stage's ``rag.search.query.analyse``; nothing later re-derives these.
    """

    text: str  # NFC, whitespace collapsed, length-limited
    folded: bool  # typed without any diacritics: matched on the accent-folded fields
    syllables: tuple[str, ...]  # lower-cased, canonical tones (folded when ``folded``)
    terms: tuple[str, ...]  # the syllables that carry meaning (question and function words removed)
    dense_text: str  # what the dense side embeds: diacritics restored when ``folded``
    wants: str | None  # 'name', 'number', 'date' or None
    kind: str | None  # wants, else 'why', 'how', 'list' or None
    listed: str | None = None  # the head noun of a list question ('tỉnh' in "gồm những tỉnh nào")
    vietnamese: bool  # most words are Vietnamese syllables
    key: str  # match key: the text (folded when ``folded``) with canonical tones, casefolded
    reference: Reference = Reference()  # the article, clause and document a question names ("Điều 35 …")

    @property
    def has_words(self) -> bool:
        return bool(re.search(r"\w", self.text))

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(self.syllables, self.syllables[1:]))


@dataclass(frozen=True, kw_only=True)
class Retrieved:
    """One retrieved chunk with its fused score and the ranks that produced it (1-based, None if absent)."""

    chunk: Chunk
    chunk_id: int
    rank: int
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True, kw_only=True)
class Retrieval:
    """The output of the retrieval stage: the analysed query, its vector and the passages, best first."""

    query: Query
    query_vector: np.ndarray
    passages: list[Retrieved]
    ms: float = 0.0
    named: int = 0  # leading passages that hold the unit the question names ("Điều 35 …"): read only those

    def readable(self, n: int) -> list[Retrieved]:
        """The passages an answer may be read from: the first ``n``, or fewer when the question names a unit."""
        return self.passages[: min(n, self.named) if self.named else n]


@dataclass(frozen=True, kw_only=True)
class Citation:
    """``[n]`` in the answer text: an exact span of a source document."""

    n: int
    source: str
    start: int
    end: int
    quote: str
    score: float
    page: int | None = None  # 1-based, for paged formats (PDF)
    section: str | None = None  # legal texts: 'Điều 35, khoản 2'
    document: str | None = None  # legal texts: 'Bộ luật Lao động 2019'

    @property
    def location(self) -> str:
        """'Điều 35, khoản 2 — Bộ luật Lao động 2019' (empty when the source has no structure)."""
        return " — ".join(x for x in (self.section, self.document) if x)


@dataclass(frozen=True, kw_only=True)
class ShortAnswer:
    """The span that answers (a name, a number, a date, a phrase), exactly as the source has it."""

    text: str
    source: str
    start: int
    end: int
    score: float  # the reader's margin: best span score minus its no-answer score


@dataclass(kw_only=True)
class Answer:
    """What :meth:`rag.Assistant.ask` returns."""

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    passages: list[Retrieved]
    confidence: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    answerer: str = "sentences"
    # LLM answers: cited numbers that were not retrieved passages (removed from the text)
    invalid_citations: list[int] = field(default_factory=list)
    # LLM answers: True when the model cited nothing valid and the extractive answer was used
    fell_back: bool = False
    # follow-ups: the question as it was searched, after the conversation was taken into account
    search_query: str | None = None
    # the reader's answer span, when there is one: the text leads with it
    short_answer: ShortAnswer | None = None

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "answerer": self.answerer,
            "invalid_citations": self.invalid_citations,
            "fell_back": self.fell_back,
            "search_query": self.search_query,
            "short_answer": self.short_answer.__dict__ if self.short_answer else None,
            "citations": [c.__dict__ for c in self.citations],
            "passages": [
                {"rank": p.rank, "source": p.chunk.source, "start": p.chunk.start, "end": p.chunk.end,
                 "score": round(p.score, 6), "text": p.chunk.text}
                for p in self.passages
            ],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
