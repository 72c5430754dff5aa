"""The langchain wiring: our retriever as a ``BaseRetriever``, the one path from a query to its answer, and
an assistant as a Runnable (``invoke`` → the :class:`Answer`, ``stream`` → text pieces, async alike)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Sequence
from contextlib import suppress
from functools import partial
from typing import Any, TypeVar

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import run_in_executor

from .answer.cite import cite, stream_answer
from .answer.protocol import Answerer, Lookup
from .search.retriever import HybridRetriever
from .types import Answer, Query

T = TypeVar("T")
_DONE = object()  # the end of an iterator, or no chunk yet


class ViragRetriever(BaseRetriever):
    """Hybrid retrieval for any langchain chain. ``page_content`` is the chunk's text as it was indexed;
    the metadata holds its exact span (``source``, ``start``, ``end``: the characters are
    ``qa.index.texts[source][start:end]``), the place a citation of it shows (``page``, ``section``,
    ``document``: None where the file has none) and ``score``, ``rank``, ``chunk_id``.

    Example::

        docs = qa.as_retriever(k=3).invoke("Ai chủ trì hội nghị?")
        docs[0].metadata["source"], docs[0].metadata["start"], docs[0].metadata["section"]
    """

    retriever: HybridRetriever
    k: int | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        docs = []
        for p in self.retriever.run(query, self.k).passages:
            c = p.chunk
            place = cite(self.retriever.index, p.rank, c.source, c.start, c.end, p.score)  # as a citation shows it
            docs.append(LCDocument(
                page_content=c.text,
                metadata={"source": c.source, "start": c.start, "end": c.end, "page": place.page,
                          "section": place.section, "document": place.document,
                          "score": p.score, "rank": p.rank, "chunk_id": p.chunk_id},
            ))
        return docs


def answer(retriever: HybridRetriever, query: Query, k: int | None, answerer: Answerer,
           lookups: Sequence[Lookup] = (), instructions: str | None = None,
           exclude: Collection[str] = ()) -> Iterator[str | Answer]:
    """Retrieve ``k`` passages for ``query`` (None: the settings' ``top_k``), then answer: text pieces
    (``[n]`` final), then the :class:`Answer`, timed.

    ``lookups`` answer what needs no reading ("what does Điều N say", the cell of a table's row), each
    ``None`` when it does not apply; the answerer answers the rest. ``instructions`` (a chat's system
    message) go to an answerer that ``takes_instructions``; the lookups, which quote, are then skipped.
    """
    retrieval = retriever.run(query, k, exclude)
    started = time.perf_counter()
    if instructions:
        pieces = answerer.stream(retrieval, instructions=instructions)
    else:
        found = next(filter(None, (lookup.run(retrieval) for lookup in lookups)), None)
        pieces = stream_answer(found) if found is not None else answerer.stream(retrieval)
    for piece in pieces:
        if isinstance(piece, Answer):
            piece.timings_ms.update(retrieve=retrieval.ms, answer=(time.perf_counter() - started) * 1000)
        yield piece


class AnswerChain(Runnable[Any, Answer]):
    """Asking as a langchain Runnable: ``invoke`` returns the :class:`Answer`, ``stream`` yields its text in
    pieces (they join into ``Answer.text``), ``ainvoke``/``astream``/``batch`` work and do not block an
    event loop. Made by :attr:`rag.Assistant.chain`, which says what it takes.

    Composed (``qa.chain | step``), it hands the next step the :class:`Answer` whether the whole is
    invoked or streamed: langchain streams a sequence through each step's ``transform``, and text
    pieces there would reach ``step`` joined into a string, not the answer ``invoke`` gives it.

    ``answer(given)`` is the assistant's one path: text pieces, then the :class:`Answer`.
    """

    def __init__(self, answer: Callable[[Any], Iterator[str | Answer]], name: str = "virag") -> None:
        self._answer = answer
        self.name = name

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return self._call_with_config(self._answer_of, input, config)

    def _answer_of(self, given: Any) -> Answer:
        *_, found = self._answer(given)
        return found

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[str]:
        yield from self._transform_stream_with_config(iter([input]), self._pieces, config)

    def _pieces(self, inputs: Iterator[Any]) -> Iterator[str]:
        for given in inputs:
            yield from (p for p in self._answer(given) if isinstance(p, str))

    async def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[str]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for piece in self._atransform_stream_with_config(one(), self._apieces, config):
            yield piece

    async def _apieces(self, inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
        async for given in inputs:
            async for p in in_thread(partial(self._answer, given)):
                if isinstance(p, str):
                    yield p

    # ainvoke and abatch: langchain's own, which run invoke in a worker thread

    def transform(self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Answer]:
        yield self.invoke(_joined(input), config)

    async def atransform(self, input: AsyncIterator[Any], config: RunnableConfig | None = None,
                         **kwargs: Any) -> AsyncIterator[Answer]:
        yield await self.ainvoke(_joined([chunk async for chunk in input]), config)


def _joined(chunks: Iterable[Any]) -> Any:
    """An input that arrived in chunks, whole: added up as langchain does (str, dict pieces), else the last."""
    whole = _DONE
    for chunk in chunks:
        try:
            whole = chunk if whole is _DONE else whole + chunk
        except TypeError:
            whole = chunk
    return whole



async def in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """The items of the iterator ``make()`` returns, each produced in a worker thread: answering loads
    models, embeds and reads on the CPU, which would stall an event loop."""
    items = await run_in_executor(None, make)
    try:
        while (item := await run_in_executor(None, next, items, _DONE)) is not _DONE:
            yield item
    finally:
        # a consumer that stops early closes the answer (an LLM's open stream); after a cancellation the
        # item being made still finishes in its thread, and the generator is closed when it is collected
        if hasattr(items, "close"):
            await run_in_executor(None, _close, items)


def _close(items: Any) -> None:
    with suppress(ValueError):  # "generator already executing": see above
        items.close()
