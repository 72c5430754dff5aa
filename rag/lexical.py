"""Keyword search: BM25 (bm25s) over Vietnamese syllables, with an accent-folded twin.

A query typed with diacritics is matched on tone-canonical syllables; a query
typed without any is matched on the folded field, so "cum thi dua so 2" finds
"Cụm thi đua số 2".
"""

from __future__ import annotations

import logging
import math
from collections import Counter

import numpy as np

from .vietnamese import has_diacritics, syllables

logger = logging.getLogger(__name__)



class _Field:
    def __init__(self, docs: list[list[str]]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        self.bm25 = bm25s.BM25(k1=1.2, b=0.75)
        # bm25s needs at least one token per document
        self.bm25.index([d or [""] for d in docs], show_progress=False)
        self.vocab: dict[str, int] = self.bm25.vocab_dict
        self.n = len(docs)
        df = Counter(t for d in docs for t in set(d))
        self._idf = {t: math.log(1 + (self.n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._idf_unseen = math.log(1 + (self.n + 0.5) / 0.5)

    def idf(self, token: str) -> float:
        return self._idf.get(token, self._idf_unseen)

    def scores(self, tokens: list[str]) -> np.ndarray:
        ids = [self.vocab[t] for t in tokens if t in self.vocab and t]
        if not ids:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)


class KeywordIndex:
    """BM25 over the chunk texts.

    Example::

        kw = KeywordIndex(["Cụm thi đua số 2 gồm 14 tỉnh.", "Hà Nội là thủ đô."])
        kw.search("cum thi dua", k=1)   # → (array([0]), array([...]))
    """

    def __init__(self, texts: list[str]) -> None:
        self.exact = _Field([syllables(t) for t in texts])
        self.folded = _Field([syllables(t, folded=True) for t in texts])

    def scores(self, query: str) -> np.ndarray:
        field, folded = self.field(query)
        return field.scores(syllables(query, folded=folded))

    def field(self, query: str) -> tuple[_Field, bool]:
        """The field a query is matched on, and whether it is the folded one."""
        folded = not has_diacritics(query)
        return (self.folded if folded else self.exact), folded

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunk ids with a positive score, best first."""
        scores = self.scores(query)
        k = min(k, scores.size)
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top]
