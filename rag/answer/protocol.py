"""The answer stage's contract: what the chain needs of an answerer, and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ..search.query import Query
from ..types import Answer, Retrieval


@runtime_checkable
class Answerer(Protocol):
    """Turns an analysed query and its retrieved passages into a cited :class:`Answer`.

    ``stream`` yields text pieces whose ``[n]`` are already final, then the finished answer;
    an answerer that cannot stream yields ``rag.answer.cite.stream_answer(self.run(...))``.
    A new answerer implements these two methods and is handed to :func:`rag.chain.build_chain`.
    """

    name: str

    def run(self, query: Query, retrieval: Retrieval) -> Answer: ...

    def stream(self, query: Query, retrieval: Retrieval) -> Iterator[str | Answer]: ...
