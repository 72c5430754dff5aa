"""The answer stage's contract: what the chain needs of an answerer or a lookup, and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ..types import Answer, Retrieval
from .cite import stream_answer


@runtime_checkable
class Answerer(Protocol):
    """Turns a :class:`Retrieval` (the analysed query and its passages) into a cited :class:`Answer`.

    ``stream`` yields text pieces whose ``[n]`` are already final, then the finished answer. An
    answerer that subclasses this protocol and only implements ``run`` streams its finished answer
    in pieces. A new answerer is handed to :class:`rag.Assistant` (``answerer=``).

    ``takes_instructions``: whether it follows instructions (a chat's system message); when True,
    ``run`` and ``stream`` also accept ``instructions=`` (text or None). An extractive answerer quotes
    the documents and keeps the default, False: the assistant then refuses instructions up front.
    """

    name: str
    takes_instructions: bool = False

    def run(self, retrieval: Retrieval) -> Answer: ...

    def stream(self, retrieval: Retrieval) -> Iterator[str | Answer]:
        yield from stream_answer(self.run(retrieval))


class Lookup(Protocol):
    """An answer found without reading (the article a question names, a table's cell), or ``None``
    when the question is not of its kind; the chain then asks the answerer. Its answers name it
    (``Answer.answerer``: ``"article"``, ``"table"``)."""

    name: str

    def run(self, retrieval: Retrieval) -> Answer | None: ...
