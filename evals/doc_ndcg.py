"""``doc_ndcg@k``: normalised discounted cumulative gain of the gold documents in the top ``k`` passages."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .ranking import DocumentMetric


class DocumentNDCGEvaluator(DocumentMetric):
    """Document-level nDCG at ``k`` with binary relevance.

    Each gold document gains ``1 / log2(rank + 1)`` at its best passage rank (once: its other
    passages gain nothing); the ideal ranking puts every gold document at the top.

    Example::

        evaluator = DocumentNDCGEvaluator(k=10)
        result = evaluator.run(
            ground_truth_documents=[["a.txt"], ["a.txt", "b.txt"]],
            retrieved_documents=[["a.txt", "a.txt"], ["x.txt", "a.txt", "a.txt", "b.txt"]],
        )
        print(round(result["score"], 4))                          # 0.8255
        print([round(s, 4) for s in result["individual_scores"]]) # [1.0, 0.6509]
    """

    @staticmethod
    def calculate_dcg(ranks: Sequence[int]) -> float:
        """Discounted gain of relevant items at these 1-based ranks."""
        return sum(1.0 / math.log2(r + 1) for r in ranks)

    @staticmethod
    def calculate_idcg(n_relevant: int, k: int) -> float:
        """The best possible gain: ``n_relevant`` items at ranks 1, 2, … (at most ``k``)."""
        return sum(1.0 / math.log2(r + 1) for r in range(1, min(n_relevant, k) + 1))

    def score(self, gold: set[str], ranks: dict[str, int]) -> float:
        return self.calculate_dcg([ranks[g] for g in gold if g in ranks]) / self.calculate_idcg(len(gold), self.k)
