"""The index as queries use it: chunks in id order, their vectors, the texts they cite, BM25 over the
chunks, and the moments that standardise dense scores. Read from disk, the chunks and texts stay
there (``rag/index/store.py``) and the vectors and BM25 arrays are read a lookup at a time
(``rag/index/diskarray.py``)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..ingest.structure import Outline, outline
from ..types import Chunk, page_at
from .format import Manifest
from .lexical import KeywordIndex
from .vectors import VectorStore, as_vector_store


@dataclass
class StoredIndex:
    """An index: chunks in id order, their vectors, and the source texts they cite (lists and dicts, or
    the read-on-demand views of ``rag.index.store``)."""

    manifest: Manifest
    chunks: Sequence[Chunk]
    vectors: VectorStore  # inner product over L2-normalised vectors (a bare FAISS index is wrapped)
    texts: Mapping[str, str]  # source → document text (offsets index it)
    dense_stats: np.ndarray | None = None  # row 0: mean vector; rows 1..d: covariance (see dense_moments)
    path: Path | None = None
    pages: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # source → page start offsets (PDFs only)
    keywords: KeywordIndex | None = None  # BM25 over the chunk texts; built on first use or read from disk
    _outlines: dict[str, Outline | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.vectors = as_vector_store(self.vectors)
        if self.dense_stats is None:
            self.dense_stats = dense_moments(self.all_vectors(), self.manifest.dimension)

    def keyword_index(self, pair_weight: float = 0.5) -> KeywordIndex:
        """The BM25 index of the chunks (built once, then shared), scored with ``pair_weight``."""
        if self.keywords is None:
            self.keywords = KeywordIndex([c.indexed_text for c in self.chunks], pair_weight=pair_weight)
        return self.keywords.with_pair_weight(pair_weight)

    def structured_chunks(self) -> Iterator[tuple[int, Chunk]]:
        """(id, chunk) of the chunks with a place in a legal outline (from the store: only those are read)."""
        if hasattr(self.chunks, "structured"):
            return self.chunks.structured()
        return ((i, c) for i, c in enumerate(self.chunks) if c.path)

    def chunk_ids_by_source(self, sources: Collection[str]) -> dict[str, list[int]]:
        """The ids of the chunks of each of ``sources`` that has any, in id order."""
        if not sources:
            return {}
        if hasattr(self.chunks, "ids_by_source"):
            return self.chunks.ids_by_source(sources)
        wanted, found = set(sources), {}
        for i, c in enumerate(self.chunks):
            if c.source in wanted:
                found.setdefault(c.source, []).append(i)
        return found

    def chunk_ids_of(self, sources: Collection[str]) -> frozenset[int]:
        """The ids of the chunks of ``sources``."""
        return frozenset(i for ids in self.chunk_ids_by_source(sources).values() for i in ids)

    def chunks_by_id(self, ids: list[int]) -> list[Chunk]:
        """The chunks ``ids``, in that order (from the store: one read)."""
        if hasattr(self.chunks, "many"):
            return self.chunks.many(ids)
        return [self.chunks[i] for i in ids]

    def quote(self, source: str, start: int, end: int) -> str:
        return self.texts[source][start:end]

    def page_of(self, source: str, offset: int) -> int | None:
        """The 1-based page of ``texts[source][offset]``; None for formats without pages (all but PDF)."""
        return page_at(self.pages.get(source, ()), offset)

    def outline(self, source: str) -> Outline | None:
        """The legal structure of a source (Chương, Điều, khoản …), read from its text once; None for prose."""
        if source not in self._outlines:
            self._outlines[source] = outline(self.texts[source]) if source in self.texts else None
        return self._outlines[source]

    def section_of(self, source: str, start: int, end: int) -> tuple[str, str]:
        """('Điều 35, khoản 2', 'Bộ luật Lao động 2019') for a span of a legal text; ('', '') otherwise."""
        found = self.outline(source)
        return (found.citation_label(start, end), found.title) if found else ("", "")

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.vectors.ntotal)
        if k == 0:
            n = len(query_vectors)
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        return self.vectors.search(np.ascontiguousarray(query_vectors, dtype=np.float32), k)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        if not ids:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def all_vectors(self) -> np.ndarray:
        n = self.vectors.ntotal
        return self.vectors.reconstruct_n(0, n) if n else np.zeros((0, self.manifest.dimension), dtype=np.float32)


def dense_moments(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """Mean and covariance of the corpus vectors, stacked as a (d+1, d) array.

    For a query q, the corpus's scores q·v have mean q·μ and variance qᵀCq: the
    dense scores can be standardised exactly without scoring every chunk.
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, dimension)
    if len(v) == 0:
        return np.zeros((dimension + 1, dimension), dtype=np.float32)
    mu = v.mean(axis=0)
    cov = (v.T @ v) / len(v) - np.outer(mu, mu)
    return np.vstack([mu[None, :], cov]).astype(np.float32)


def combine_moments(parts: list[tuple[int, np.ndarray]], dimension: int) -> np.ndarray:
    """The :func:`dense_moments` of several segments' vectors together, from each one's count and moments."""
    n = sum(count for count, _ in parts)
    if n == 0:
        return np.zeros((dimension + 1, dimension), dtype=np.float32)
    mu = sum(count * stats[0].astype(np.float64) for count, stats in parts) / n
    second = sum(count * (stats[1:].astype(np.float64) + np.outer(stats[0], stats[0])) for count, stats in parts) / n
    return np.vstack([mu[None, :], second - np.outer(mu, mu)]).astype(np.float32)
