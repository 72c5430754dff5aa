"""Questions that name a unit of a legal text: "Điều 35 quy định gì?", "theo khoản 2 Điều 5 …",
"dieu 35 bo luat lao dong", "Nghị định 12/2022 phạt bao nhiêu …".

:func:`parse_reference` reads the :class:`~rag.types.Reference` from the question (with or without diacritics);
:class:`Sections` finds the chunks that hold it, so retrieval can put them first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from ..types import Chunk, Reference
from ..vietnamese import fold

if TYPE_CHECKING:
    from ..index.memory import StoredIndex

_ARTICLE = re.compile(r"\bdieu\s+(\d{1,3}[a-z]?)\b")
_CLAUSE = re.compile(r"\bkhoan\s+(\d{1,3}[a-z]?)\b")
_POINT = re.compile(r"\bdiem\s+([a-z])\b(?=\s+(?:khoan|dieu)\b)")
_KIND = r"bo luat|luat|nghi dinh|nghi quyet|thong tu|quyet dinh|phap lenh|chi thi"
_DOCUMENT = re.compile(rf"\b(?:{_KIND})\b(?:,?\s+(?:so\s+)?[\w/.-]+){{0,10}}")
# words that end the document's name in a question ("… lao động quy định gì")
_STOP = {"quy", "thi", "co", "la", "gi", "nao", "ve", "cua", "theo", "tai", "nhu", "bao", "nhieu",
         "khi", "duoc", "phai", "nhung", "cac", "trong", "de", "hay", "neu"}


def parse_reference(question: str) -> Reference:
    """The legal reference in ``question`` (an empty one when it names no article)."""
    q = fold(question.lower())
    article = _ARTICLE.search(q)
    if not article:
        return Reference()
    clause = _CLAUSE.search(q)
    point = _POINT.search(q)
    words: list[str] = []
    for m in _DOCUMENT.finditer(q):
        for word in re.findall(r"[\w/.-]+", m.group(0)):
            if word in _STOP and len(words) > 1:
                break
            words.append(word)
    return Reference(article=article.group(1), clause=clause.group(1) if clause else None,
                     point=point.group(1) if point else None, document=tuple(words))


def _in_range(value: str, first: str, last: str | None) -> bool:
    if last is None:
        return value == first
    if value.isdigit() and first.isdigit() and last.isdigit():
        return int(first) <= int(value) <= int(last)
    return fold(first) <= value <= fold(last)


@dataclass(frozen=True)
class _Place:
    article: str
    clauses: tuple[str, str | None] | None  # (first, last) of the khoản the chunk holds; None: the whole Điều
    points: tuple[str, str | None] | None
    starts_article: bool


class Sections:
    """The chunks of an index by the article they hold, and the words of their documents' titles."""

    def __init__(self, index: StoredIndex) -> None:
        self.index = index
        self.chunks = index.chunks

    @cached_property
    def _places(self) -> dict[str, list[tuple[int, _Place]]]:
        found: dict[str, list[tuple[int, _Place]]] = {}
        for i, c in self.index.structured_chunks():
            steps = {s.kind: s for s in c.path}
            article, clauses, points = steps.get("dieu"), steps.get("khoan"), steps.get("diem")
            if article is None:
                continue
            place = _Place(article.number, (clauses.number, clauses.last or None) if clauses else None,
                           (fold(points.number), fold(points.last) or None) if points else None,
                           starts_article=c.text.startswith("Điều"))
            found.setdefault(article.number, []).append((i, place))
        return found

    @cached_property
    def _titles(self) -> dict[str, tuple[set[str], set[str]]]:
        """Each structured source's title and number as folded words, and the numbers in them."""
        titles = {}
        for source in dict.fromkeys(c.source for _, c in self.index.structured_chunks()):
            found = self.index.outline(source)
            words = set(re.findall(r"[\w/.-]+", fold(f"{found.title} {found.number}".lower()))) if found else set()
            titles[source] = (words, {n for w in words for n in re.findall(r"\d+", w)})
        return titles

    def _document_match(self, source: str, words: tuple[str, ...]) -> float:
        """The share of the question's document words found in the source's title (and number)."""
        title, numbers = self._titles[source]
        hits = sum(1 for w in words if w in title or (w.isdigit() and w in numbers)
                   or any(t.startswith(w + "/") for t in title))
        return hits / len(words)

    def find(self, ref: Reference) -> list[tuple[int, int]]:
        """``(chunk id, priority)`` of the chunks that hold the referenced unit, in the document the
        question names (when it names one); priority 0 for the chunk that opens the article when no
        clause is asked, else 1."""
        if not ref:
            return []
        places = self._places.get(ref.article, [])
        if ref.clause:
            places = [(i, p) for i, p in places if p.clauses is None or _in_range(ref.clause, *p.clauses)] or places
            if ref.point:
                places = [(i, p) for i, p in places if p.points is None or _in_range(ref.point, *p.points)] or places
        if not places:
            return []
        if ref.document:  # the document the question names: the best match among all, not only those with the article
            match = {source: self._document_match(source, ref.document) for source in self._titles}
            best = max(match.values(), default=0.0)
            if best > 0:
                places = [(i, p) for i, p in places if match[self.chunks[i].source] == best]
        return [(i, 0 if p.starts_article and ref.clause is None else 1) for i, p in places]

    def narrow(self, chunk: Chunk, ref: Reference) -> Chunk:
        """``chunk`` cut to the khoản (and điểm) ``ref`` names, when it holds more than that."""
        found = self.index.outline(chunk.source)
        if found is None or not ref.clause:
            return chunk
        start, end = chunk.start, chunk.end
        for unit in found.locate(ref.article, ref.clause, ref.point)[1:]:
            if not (start <= unit.start < end and unit.end <= end):
                break
            start, end = unit.start, unit.end
        spans = tuple((a, b) for a, b in chunk.sentences if a >= start and b <= end)
        if (start, end) == (chunk.start, chunk.end) or not spans:
            return chunk
        text = self.index.texts[chunk.source]
        return replace(chunk, start=spans[0][0], end=spans[-1][1], sentences=spans,
                       text=" ".join(text[a:b] for a, b in spans), path=tuple(u.step() for u in found.path(spans[0][0])))
