"""Questions that ask what a named unit of a law says ("Điều 35 quy định gì?", "khoản 2 Điều 5 Luật Cư trú"):
answered with the unit itself, its heading first, both cited. Other questions go to the configured
answerer (which reads only the named unit's passages when the question names one).
"""

from __future__ import annotations

import re

from ..index.memory import StoredIndex
from ..ingest.structure import Unit
from ..types import Answer, Query, Retrieval, ShortAnswer
from ..vietnamese import fold, lines
from .cite import cite

# What a question may say besides the reference and still only ask for the unit's content.
_ASKS_CONTENT = {"quy", "dinh", "gi", "noi", "dung", "ve", "the", "nao", "cua", "theo", "tai", "trong", "la",
                 "viec", "van", "de", "ban", "co", "nhung", "cac", "chi", "tiet", "so", "bao", "gom"}
QUOTE_CHARS = 300  # of the unit's body quoted after its heading: whole lines, at least one


def asks_for_content(query: Query, title: str = "") -> bool:
    """The question names a unit (and perhaps its document, ``title``) and asks nothing narrower than what it says."""
    ref = query.reference
    if not ref:
        return False
    named = {"dieu", "khoan", "diem", ref.article, ref.clause, ref.point, *ref.document}
    named |= {part for word in [*ref.document, *fold(title.lower()).split()] for part in re.split(r"[/.,-]", word)}
    return all(fold(t) in named or fold(t) in _ASKS_CONTENT for t in query.terms)


class ArticleAnswers:
    """Answers "what does this article say" from the article itself; ``None`` for any other question
    (the chain then asks the configured answerer).

    Example::

        articles = ArticleAnswers(index)
        articles.run(retrieval).text   # '**Điều 35. Quyền đơn phương …** [1] 1. Người lao động … [2]'
    """

    name = "article"

    def __init__(self, index: StoredIndex) -> None:
        self.index = index

    def _unit(self, query: Query, retrieval: Retrieval) -> tuple[str, Unit, Unit] | None:
        """(source, the Điều, the unit asked: the Điều or its khoản or điểm) for the first named passage."""
        if not retrieval.named:
            return None
        ref, source = query.reference, retrieval.passages[0].chunk.source
        found = self.index.outline(source)
        if found is None or not asks_for_content(query, f"{found.title} {found.number}"):
            return None
        path = found.locate(ref.article, ref.clause, ref.point)
        return (source, path[0], path[-1]) if path else None

    def run(self, retrieval: Retrieval) -> Answer | None:
        found = self._unit(retrieval.query, retrieval)
        return None if found is None else self._answer(retrieval.query, retrieval, *found)

    def _answer(self, query: Query, retrieval: Retrieval, source: str, article: Unit, asked: Unit) -> Answer:
        text = self.index.texts[source]
        heading = cite(self.index, 1, source, article.start, article.heading_end, 1.0)
        body = lines(text, asked.heading_end if asked is article else asked.start, asked.end)
        start = end = body[0][0] if body else asked.end
        for _, b in body:  # whole lines, at least one
            if end > start and b - start > QUOTE_CHARS:
                break
            end = b
        parts = [heading]
        if end > start:
            parts.append(cite(self.index, 2, source, start, end, 1.0))
        short = ShortAnswer(text=heading.quote, source=source, start=heading.start, end=heading.end, score=1.0)
        more = "…" if end < asked.end else ""
        quoted = f" {' '.join(parts[1].quote.split())}{more} [2]" if len(parts) > 1 else ""
        return Answer(question=query.text, text=f"**{' '.join(heading.quote.split())}** [1]{quoted}",
                      citations=parts, abstained=False, passages=retrieval.passages, confidence=1.0,
                      answerer=self.name, short_answer=short)
