"""Tables in passages: rows as the DOCX and HTML readers write them (``a | b | c``, the table's first row
its header).

:class:`TableView` spells rows out for the reader (``X: a; Y: b``), mapping what it finds back to
exact offsets; :class:`TableAnswers` looks a value up when the question names a row and a column
("Đà Nẵng có bao nhiêu doanh nghiệp mới?"): a small reader confuses neighbouring rows, a lookup does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from ..index.memory import StoredIndex
from ..ingest.chunking import TABLE_ROW
from ..types import Answer, Retrieval, ShortAnswer
from ..vietnamese import lines, syllables
from .cite import cite


class TableView:
    """A passage as the reader reads it: each table row ``a | b | c`` (as the DOCX and HTML readers write
    rows) spelled out under its table's header ``X | Y | Z`` as ``X: a; Y: b; Z: c``, the way the reader's
    prose training data reads. Spans found in the view map back to exact source offsets."""

    def __init__(self, text: str, pieces: list[tuple[int, int, int]]) -> None:
        self.text = text
        self.pieces = pieces  # (view start, source start, length) of every slice copied from the source

    @classmethod
    def of(cls, source: str, start: int, end: int) -> TableView:
        if " | " not in source[start:end]:
            return cls(source[start:end], [(0, start, end - start)])
        parts: list[str] = []
        pieces: list[tuple[int, int, int]] = []
        at = 0

        def copy(a: int, b: int) -> None:
            nonlocal at
            if b > a:
                pieces.append((at, a, b - a))
                parts.append(source[a:b])
                at += b - a

        def say(label: str) -> None:
            nonlocal at
            parts.append(label)
            at += len(label)

        cursor = start
        for row in table_rows(source, start, end):
            copy(cursor, row.start)
            for k, ((a, b), name) in enumerate(zip(row.cells, row.names)):
                say(f"{'; ' if k else ''}{name}: ")
                copy(a, b)
            say(".")
            cursor = row.end
        copy(cursor, end)
        return cls("".join(parts), pieces)

    def source_span(self, a: int, b: int) -> tuple[int, int]:
        """The source offsets of view span ``[a, b)`` (labels the view added are left out)."""
        inside = [(v, s, n) for v, s, n in self.pieces if v < b and v + n > a]
        if not inside:
            v, s, n = min(self.pieces, key=lambda p: abs(p[0] - a))
            return s, s + n
        (v0, s0, _), (v1, s1, n1) = inside[0], inside[-1]
        return s0 + max(0, a - v0), s1 + min(n1, b - v1)


def _cells(text: str, start: int, end: int) -> list[tuple[int, int]]:
    cells, a = [], start
    for m in re.finditer(r" \| ", text[start:end]):
        cells.append((a, start + m.start()))
        a = start + m.end()
    return [*cells, (a, end)]


class Row(NamedTuple):
    """A table row that is not its table's header: its span, its cells' spans, its header's cell texts."""

    start: int
    end: int
    cells: list[tuple[int, int]]
    names: list[str]


def table_rows(text: str, start: int, end: int) -> Iterator[Row]:
    """The rows of ``text[start:end]`` under a header with as many cells (the header, found once per
    table, may lie before ``start``)."""
    if " | " not in text[start:end]:  # most passages hold no table
        return
    header, previous = None, None
    for s, e in lines(text, start, end):
        if not TABLE_ROW.search(text, s, e):
            header = None
            continue
        if header is None or text.count("\n", previous, s) != 1:  # a new table, or a blank line between
            header = _header(text, s)
        previous = e
        cells = _cells(text, s, e)
        if header[0] != (s, e) and len(cells) == len(header[1]):
            yield Row(s, e, cells, header[1])


def _header(text: str, row_start: int) -> tuple[tuple[int, int], list[str]]:
    """The first row of the table holding the row at ``row_start``: its span and its cells' texts."""
    first = row_start
    while first > 0:
        before = text.rfind("\n", 0, first - 1) + 1
        if not TABLE_ROW.search(text, before, first - 1):
            break
        first = before
    end = text.find("\n", first)
    end = len(text) if end < 0 else end
    return (first, end), [text[a:b] for a, b in _cells(text, first, end)]


class TableAnswers:
    """The cell where the row the question names meets the column it asks for; ``None`` otherwise.

    A row is named when every syllable of one of its text cells (a name: letters, at most
    :data:`NAME_SYLLABLES`) is in the question and no other row of the passages is named as fully;
    the column is the header cell sharing the most syllables with the question (at least one, no tie).

    Example::

        TableAnswers(index).run(retrieval).short_answer.text   # '1.607'
    """

    NAME_SYLLABLES = 8

    name = "table"

    def __init__(self, index: StoredIndex, passages: int = 5) -> None:
        self.index = index
        self.passages = passages

    def run(self, retrieval: Retrieval) -> Answer | None:
        query = retrieval.query
        asked = set(syllables(query.text, folded=query.folded))
        found: list[tuple[int, str, Row]] = []
        for p in retrieval.readable(self.passages):
            text = self.index.texts[p.chunk.source]
            for row in table_rows(text, p.chunk.start, p.chunk.end):
                named = max((len(words) for a, b in row.cells
                             if (words := syllables(text[a:b], folded=query.folded))
                             and any(c.isalpha() for c in text[a:b]) and len(words) <= self.NAME_SYLLABLES
                             and set(words) <= asked), default=0)
                if named:
                    found.append((named, p.chunk.source, row))
        if not found:
            return None
        found.sort(key=lambda f: -f[0])
        if len(found) > 1 and found[1][0] == found[0][0] and found[1][2][:2] != found[0][2][:2]:
            return None
        _, source, (start, end, cells, names) = found[0]
        text = self.index.texts[source]
        overlap = [len(set(syllables(name, folded=query.folded)) & asked) for name in names]
        for k, (a, b) in enumerate(cells):  # the row's own name is not the column asked for
            if set(syllables(text[a:b], folded=query.folded)) <= asked:
                overlap[k] = 0
        best = max(overlap)
        if best == 0 or overlap.count(best) > 1:
            return None
        a, b = cells[overlap.index(best)]
        if not text[a:b].strip():
            return None
        citation = cite(self.index, 1, source, start, end, float(best))
        short = ShortAnswer(text=text[a:b], source=source, start=a, end=b, score=float(best))
        return Answer(question=query.text, text=f"**{text[a:b]}** ({names[overlap.index(best)]}) — {citation.quote} [1]",
                      citations=[citation], abstained=False, passages=retrieval.passages, confidence=0.9,
                      answerer=self.name, short_answer=short)
