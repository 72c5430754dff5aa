"""Retrieve: dense (FAISS) and keyword (BM25) search fused by weighted reciprocal rank."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from embeddings.encoder import Encoder

from .chunking import Chunk
from .config import Settings
from .lexical import KeywordIndex
from .store import StoredIndex


@dataclass(frozen=True)
class Retrieved:
    """One retrieved chunk with its fused score and the ranks that produced it (1-based, None if absent)."""

    chunk: Chunk
    chunk_id: int
    rank: int
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class Retrieval:
    """The output of the retrieval stage."""

    query: str
    query_vector: np.ndarray
    passages: list[Retrieved]
    ms: float = 0.0


def fuse(rankings: list[tuple[list[int], float]], rrf_k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: sum of ``weight / (rrf_k + rank)``, best first, ties by id."""
    scores: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, i in enumerate(ids, start=1):
            scores[i] = scores.get(i, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class HybridRetriever:
    """Dense + BM25 retrieval over a :class:`StoredIndex`.

    Example::

        retriever = HybridRetriever(settings, encoder, index)
        result = retriever.run("Cụm thi đua số 2 gồm những tỉnh nào?")
        result.passages[0].chunk.source      # '004_67d702c3fe2dbdbb.txt'
    """

    def __init__(self, settings: Settings, encoder: Encoder, index: StoredIndex) -> None:
        self.settings = settings
        self.encoder = encoder
        self.index = index
        self.keywords = KeywordIndex([c.text for c in index.chunks])

    def run(self, query: str, k: int | None = None) -> Retrieval:
        started = time.perf_counter()
        s = self.settings
        k = k or s.top_k
        qvec = self.encoder.encode_query([query])
        scores, ids = self.index.search(qvec, s.candidates)
        dense_ids = [int(i) for i in ids[0] if i >= 0]
        dense = {i: (r, float(sc)) for r, (i, sc) in enumerate(zip(dense_ids, scores[0]), start=1)}
        kw_ids, _ = self.keywords.search(query, s.candidates)
        kw_rank = {int(i): r for r, i in enumerate(kw_ids, start=1)}
        fused = fuse([(dense_ids, s.dense_weight), ([int(i) for i in kw_ids], s.bm25_weight)], s.rrf_k)
        passages = []
        for rank, (i, score) in enumerate(fused[:k], start=1):
            d_rank, d_score = dense.get(i, (None, None))
            passages.append(Retrieved(self.index.chunks[i], i, rank, score, d_rank, d_score, kw_rank.get(i)))
        return Retrieval(query, qvec[0], passages, (time.perf_counter() - started) * 1000)
