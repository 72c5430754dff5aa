"""``doc_ndcg@k``: normalised discounted cumulative gain of the gold documents in the top ``k`` passages."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .ranking import best_ranks, check_ground_truth, check_k, check_lengths, mean


class DocumentNDCGEvaluator:
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

    def __init__(self, k: int = 10) -> None:
        check_k(k)
        self.k = k

    @staticmethod
    def calculate_dcg(ranks: Sequence[int]) -> float:
        """Discounted gain of relevant items at these 1-based ranks."""
        return sum(1.0 / math.log2(r + 1) for r in ranks)

    @staticmethod
    def calculate_idcg(n_relevant: int, k: int) -> float:
        """The best possible gain: ``n_relevant`` items at ranks 1, 2, … (at most ``k``)."""
        return sum(1.0 / math.log2(r + 1) for r in range(1, min(n_relevant, k) + 1))

    def run(self, ground_truth_documents: Sequence[Sequence[str]],
            retrieved_documents: Sequence[Sequence[str]]) -> dict:
        """Score each question.

        Args:
            ground_truth_documents: the gold file names of each question (non-empty).
            retrieved_documents: the source file of each retrieved passage, best first.

        Returns:
            ``{"score": mean or None when there is no question, "individual_scores": [...]}``.
        """
        check_lengths(ground_truth_documents=ground_truth_documents, retrieved_documents=retrieved_documents)
        check_ground_truth(ground_truth_documents)
        scores = []
        for gold, retrieved in zip(ground_truth_documents, retrieved_documents):
            ranks = best_ranks(retrieved[: self.k])
            gold_set = set(gold)
            dcg = self.calculate_dcg([ranks[g] for g in gold_set if g in ranks])
            scores.append(dcg / self.calculate_idcg(len(gold_set), self.k))
        return {"score": mean(scores), "individual_scores": scores}
