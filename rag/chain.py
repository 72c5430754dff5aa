"""The langchain wiring: our retriever as a ``BaseRetriever`` and an assistant as a Runnable (``invoke`` →
the :class:`Answer`, ``stream`` → text pieces, async alike). Imported only when asked for: langchain_core
takes about a second to import, which a plain question should not pay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from functools import partial
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig

from .answer.cite import cite
from .pipeline import in_thread
from .search.retriever import HybridRetriever
from .types import Answer

_NOTHING = object()  # no chunk yet


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
    whole = _NOTHING
    for chunk in chunks:
        try:
            whole = chunk if whole is _NOTHING else whole + chunk
        except TypeError:
            whole = chunk
    return whole
