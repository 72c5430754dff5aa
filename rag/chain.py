"""The langchain wiring: our retriever as a ``BaseRetriever``, and retrieve → answer as one Runnable."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from .answer.cite import stream_answer
from .answer.protocol import Answerer
from .search.query import Query
from .search.retriever import HybridRetriever
from .types import Answer, Retrieval


class Lookup(Protocol):
    """An answer found without reading (:class:`~rag.answer.legal.ArticleAnswers`,
    :class:`~rag.answer.tables.TableAnswers`), or ``None`` when the question is not of its kind."""

    def answer(self, query: Query, retrieval: Retrieval) -> Answer | None: ...


class ViragRetriever(BaseRetriever):
    """Hybrid retrieval for any langchain chain; metadata carries exact source offsets.

    Example::

        docs = qa.as_retriever(k=3).invoke("Ai chủ trì hội nghị?")
        docs[0].metadata["source"], docs[0].metadata["start"]
    """

    retriever: HybridRetriever
    k: int | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [
            LCDocument(
                page_content=p.chunk.text,
                metadata={"source": p.chunk.source, "start": p.chunk.start, "end": p.chunk.end,
                          "score": p.score, "rank": p.rank, "chunk_id": p.chunk_id},
            )
            for p in self.retriever.run(query, self.k).passages
        ]


def build_chain(retriever: HybridRetriever, answerer: Answerer,
                lookups: Sequence[Lookup] = ()) -> Runnable[Query, str | Answer]:
    """:class:`Query` → :class:`Retrieval` → text pieces (``[n]`` final), then the :class:`Answer`.

    ``chain.stream(query)`` is the one path: :meth:`rag.Assistant.ask` keeps its last item.
    ``lookups`` answer what needs no reading ("what does Điều N say", the cell of a table's row), each
    ``None`` when it does not apply; the answerer answers the rest.
    """

    def answer(retrievals: Iterator[Retrieval]) -> Iterator[str | Answer]:
        for retrieval in retrievals:
            started = time.perf_counter()
            quoted = next(filter(None, (lookup.answer(retrieval.query, retrieval) for lookup in lookups)), None)
            pieces = stream_answer(quoted) if quoted is not None else answerer.stream(retrieval.query, retrieval)
            for piece in pieces:
                if isinstance(piece, Answer):
                    piece.timings_ms.update(retrieve=retrieval.ms, answer=(time.perf_counter() - started) * 1000)
                yield piece

    return RunnableLambda(retriever.run, name="retrieve") | RunnableGenerator(answer, name="answer")
