"""Retrieve: dense (FAISS) and keyword (BM25) search, fused by standardised scores (or reciprocal ranks);
the unit a question names ("Điều 35 …") comes first."""

from __future__ import annotations

import time
from collections.abc import Collection
from functools import cached_property

import numpy as np

from embeddings.encoder import Encoder

from ..config import RetrievalOptions
from ..index.lexical import KeywordIndex, top_k
from ..index.memory import StoredIndex
from ..types import Retrieval, Retrieved
from ..types import Query
from .query import analyse
from .sections import Sections


def fuse(rankings: list[tuple[list[int], float]], rrf_k: int) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion: sum of ``weight / (rrf_k + rank)``, best first, ties by id."""
    scores: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, i in enumerate(ids, start=1):
            scores[i] = scores.get(i, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def standardise(scores: np.ndarray, mean: float, std: float) -> np.ndarray:
    """z-scores; a flat score distribution (no signal) gives zeros."""
    if std <= 1e-9:
        return np.zeros_like(scores, dtype=np.float32)
    return ((scores - mean) / std).astype(np.float32)


class HybridRetriever:
    """Dense + BM25 retrieval over a :class:`StoredIndex`.

    With ``fusion="zscore"`` (the default) each side's scores are standardised
    against the whole corpus (dense: exactly, from the stored mean and
    covariance of the chunk vectors; BM25: from its full score vector) and
    added with ``dense_weight`` and ``bm25_weight``; ``fusion="rrf"`` uses
    weighted reciprocal ranks instead. ``evals/RESULTS.md`` has the measurements.

    Example::

        retriever = HybridRetriever(settings.retrieval, encoder, index)
        result = retriever.run(retriever.analyse("Cụm thi đua số 2 gồm những tỉnh nào?"))
        result.passages[0].chunk.source      # '004_67d702c3fe2dbdbb.txt'
    """

    def __init__(self, options: RetrievalOptions, encoder: Encoder, index: StoredIndex) -> None:
        self.options = options
        self.encoder = encoder
        self.index = index
        self.keywords: KeywordIndex = index.keyword_index(options.pair_weight)  # saved with the index
        stats = index.dense_stats
        self._mu, self._cov = stats[0], stats[1:]

    @cached_property
    def sections(self) -> Sections:
        """The chunks of legal texts by article, for questions that name one."""
        return Sections(self.index)

    def analyse(self, text: str) -> Query:
        """``text`` as a :class:`Query` of this corpus (an unaccented one gets its diacritics restored)."""
        s = self.options
        return analyse(text, self.keywords, max_chars=s.max_question_chars, restore=s.restore_diacritics)

    def run(self, query: Query | str, k: int | None = None, exclude: Collection[str] = ()) -> Retrieval:
        """The ``k`` best passages (None: ``top_k``) for ``query``; ``exclude``: sources searched as if absent
        (their chunks still count in the corpus statistics the scores are standardised with)."""
        started = time.perf_counter()
        if isinstance(query, str):
            query = self.analyse(query)
        s = self.options
        k = k or s.top_k
        pool = max(s.candidates, k)  # each side's candidates: never fewer than the passages asked for
        hidden = self.index.chunk_ids_of(exclude)
        # An unaccented query embeds poorly: the dense side gets its diacritics restored from the corpus.
        qvec = self.encoder.encode_query([query.dense_text])
        d_scores, d_ids = self.index.search(qvec, pool + len(hidden))
        kept = [(int(i), float(sc)) for i, sc in zip(d_ids[0], d_scores[0]) if i >= 0 and int(i) not in hidden][:pool]
        dense_ids = [i for i, _ in kept]
        kw_all = self.keywords.scores(query)
        kw_ids = [int(i) for i in top_k(kw_all, pool + len(hidden))[0] if int(i) not in hidden][:pool]
        dense = {i: (r, sc) for r, (i, sc) in enumerate(kept, start=1)}
        kw_rank = {i: r for r, i in enumerate(kw_ids, start=1)}
        named = [(i, p) for i, p in self.sections.find(query.reference) if i not in hidden] if query.reference else []
        if s.fusion == "rrf":
            fused = fuse([(dense_ids, s.dense_weight), (kw_ids, s.bm25_weight)], s.rrf_k)
        else:
            fused = self._zscore(qvec[0], dense_ids + [i for i, _ in named], kw_ids, kw_all)
        if named:  # the unit the question names comes first, whatever its words score
            score = dict(fused)
            order = {i: (priority, -score.get(i, float("-inf")), i) for i, priority in named}
            fused = [(i, score.get(i, 0.0)) for i in sorted(order, key=order.get)] + [
                (i, sc) for i, sc in fused if i not in order]
        passages = []
        for rank, (i, score) in enumerate(fused[:k], start=1):
            d_rank, d_score = dense.get(i, (None, None))
            chunk = self.index.chunks[i]
            if rank <= len(named) and query.reference.clause:  # a whole Điều, where a khoản of it was asked
                chunk = self.sections.narrow(chunk, query.reference)
            passages.append(Retrieved(chunk=chunk, chunk_id=i, rank=rank, score=score, dense_rank=d_rank,
                                      dense_score=d_score, keyword_rank=kw_rank.get(i)))
        return Retrieval(query=query, query_vector=qvec[0], passages=passages, ms=(time.perf_counter() - started) * 1000,
                         named=min(len(named), k))

    def _zscore(self, q: np.ndarray, dense_ids: list[int], kw_ids: list[int], kw_all: np.ndarray):
        s = self.options
        cand = sorted(set(dense_ids) | set(kw_ids))
        if not cand:
            return []
        dense = self.index.vectors_of(cand) @ q
        q64 = q.astype(np.float64)
        z_dense = standardise(dense, float(q64 @ self._mu), float(np.sqrt(max(q64 @ self._cov @ q64, 0.0))))
        z_kw = standardise(kw_all[cand], float(kw_all.mean()), float(kw_all.std()))
        total = s.dense_weight * z_dense + s.bm25_weight * z_kw
        order = np.lexsort((np.asarray(cand), -total))
        return [(cand[j], float(total[j])) for j in order]
