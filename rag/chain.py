"""The langchain wiring: our retriever as a ``BaseRetriever``, and retrieve → answer as one Runnable."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableGenerator, RunnableLambda

from .answer.cite import stream_answer
from .answer.protocol import Answerer, Lookup
from .search.retriever import HybridRetriever
from .types import Answer, Query, Retrieval


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
                lookups: Sequence[Lookup] = ()) -> Runnable[tuple[Query, int | None, str | None], str | Answer]:
    """``(query, k, instructions)`` → :class:`Retrieval` of ``k`` passages (None: the settings' ``top_k``) →
    text pieces (``[n]`` final), then the :class:`Answer`.

    ``chain.stream((query, k, instructions))`` is the one path: :meth:`rag.Assistant.ask` keeps its last item.
    ``lookups`` answer what needs no reading ("what does Điều N say", the cell of a table's row), each
    ``None`` when it does not apply; the answerer answers the rest. ``instructions`` (a chat's system
    message) go to an answerer that ``takes_instructions``; the lookups, which quote, are then skipped.
    """

    def retrieve(asked: tuple[Query, int | None, str | None]) -> tuple[Retrieval, str | None]:
        query, k, instructions = asked
        return retriever.run(query, k), instructions

    def answer(retrievals: Iterator[tuple[Retrieval, str | None]]) -> Iterator[str | Answer]:
        for retrieval, instructions in retrievals:
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

    return RunnableLambda(retrieve, name="retrieve") | RunnableGenerator(answer, name="answer")
