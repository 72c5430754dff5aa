"""The one path from a query to its answer: retrieve, then a lookup or the answerer, timed; and the same
path run off an event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import suppress
from typing import Any, TypeVar

from .answer.cite import stream_answer
from .answer.protocol import Answerer, Lookup
from .search.retriever import HybridRetriever
from .types import Answer, Query

T = TypeVar("T")
_DONE = object()  # the end of an iterator


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


async def in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """The items of the iterator ``make()`` returns, each produced in a worker thread: answering loads
    models, embeds and reads on the CPU, which would stall an event loop."""
    items = await asyncio.to_thread(make)
    try:
        while (item := await asyncio.to_thread(next, items, _DONE)) is not _DONE:
            yield item
    finally:
        # a consumer that stops early closes the answer (an LLM's open stream); after a cancellation the
        # item being made still finishes in its thread, and the generator is closed when it is collected
        if hasattr(items, "close"):
            await asyncio.to_thread(_close, items)


def _close(items: Any) -> None:
    with suppress(ValueError):  # "generator already executing": see above
        items.close()
