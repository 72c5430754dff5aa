"""The answer stage's contract: what the chain needs of an answerer, and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ..search.query import Query
from ..types import Answer, Retrieval
from .cite import stream_answer


@runtime_checkable
class Answerer(Protocol):
    """Turns an analysed query and its retrieved passages into a cited :class:`Answer`.

    ``stream`` yields text pieces whose ``[n]`` are already final, then the finished answer. An
    answerer that subclasses this protocol and only implements ``run`` streams its finished answer
    in pieces. A new answerer is handed to :class:`rag.Assistant` (``answerer=``).
    """

    name: str

    def run(self, query: Query, retrieval: Retrieval) -> Answer: ...

    def stream(self, query: Query, retrieval: Retrieval) -> Iterator[str | Answer]:
        yield from stream_answer(self.run(query, retrieval))
