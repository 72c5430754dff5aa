"""Cite: citations from spans, ``[n]`` markers checked against the retrieved passages, and a finished
answer released in pieces with its citations already fixed.

Every answerer (sentences, LLM) and every surface (library, UI, CLI) goes through here, so a
``[n]`` means the same exact characters of the same file everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Protocol

from ..types import Answer, Citation, Retrieval

MARKER = re.compile(r"( *)\[(\d{1,3})\]")


class Quotable(Protocol):
    """What citing needs of an index: the exact text of a span and its page."""

    def quote(self, source: str, start: int, end: int) -> str: ...

    def page_of(self, source: str, offset: int) -> int | None: ...

    def section_of(self, source: str, start: int, end: int) -> tuple[str, str]: ...


def cite(index: Quotable, n: int, source: str, start: int, end: int, score: float) -> Citation:
    """Citation ``[n]`` of ``source[start:end]``: the quote is sliced from the indexed text, never rebuilt.
    Into a legal text it also names the article ('Điều 35, khoản 2') and the document."""
    section, document = index.section_of(source, start, end)
    return Citation(n=n, source=source, start=start, end=end, quote=index.quote(source, start, end),
                    score=round(score, 4), page=index.page_of(source, start), section=section or None,
                    document=document or None)


class CitationValidator:
    """Keeps the ``[n]`` that name a retrieved passage, renumbered by first use; drops the rest."""

    def __init__(self, retrieval: Retrieval) -> None:
        self.retrieval = retrieval
        self.order: list[int] = []  # passage numbers (1-based) in order of first use
        self.invalid: list[int] = []

    def rewrite(self, text: str) -> str:
        def sub(m: re.Match) -> str:
            n = int(m.group(2))
            if not 1 <= n <= len(self.retrieval.passages):
                self.invalid.append(n)
                return ""  # with the spaces before it, so "và [8]." reads "và."
            if n not in self.order:
                self.order.append(n)
            return f"{m.group(1)}[{self.order.index(n) + 1}]"

        return MARKER.sub(sub, text)

    def citations(self, index: Quotable) -> list[Citation]:
        """One citation per passage used, each the whole passage's span."""
        out = []
        for new, n in enumerate(self.order, start=1):
            p = self.retrieval.passages[n - 1]
            out.append(cite(index, new, p.chunk.source, p.chunk.start, p.chunk.end, p.score))
        return out


def pieces(text: str, words: int = 4) -> list[str]:
    """``text`` cut every ``words`` words (each piece keeps its trailing space); they join back to ``text``."""
    cuts = [m.end() for m in re.finditer(r"\S+\s*", text)][words - 1 :: words]
    if not cuts or cuts[-1] != len(text):
        cuts.append(len(text))
    return [text[a:b] for a, b in zip([0, *cuts], cuts) if b > a] or [text]


def stream_answer(answer: Answer, words: int = 4) -> Iterator[str | Answer]:
    """A finished answer as a stream: its text in pieces (an abstention's notice whole), then the answer."""
    yield from ([answer.text] if answer.abstained else pieces(answer.text, words))
    yield answer


def stream_validated(raw: Iterable[str], retrieval: Retrieval, done: list[str]) -> Iterator[str]:
    """Pieces of a model's text as they arrive, each ``[n]`` already renumbered or removed.

    A half-written marker and trailing spaces are held back (both may still be rewritten), so a
    streamed ``[n]`` never changes. The raw text accumulates in ``done[0]`` for the final answer.
    """
    done[:] = [""]
    shown = ""
    for piece in raw:
        done[0] += piece
        text = re.sub(r"\s*\[\d*$", "", CitationValidator(retrieval).rewrite(done[0])).rstrip()
        if text.startswith(shown) and len(text) > len(shown):
            yield text[len(shown):]
            shown = text
