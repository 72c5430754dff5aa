"""``doc_mrr@k``: the reciprocal rank of the first gold document among the top-``k`` retrieved passages."""

from __future__ import annotations

from collections.abc import Sequence

from .ranking import best_ranks, check_ground_truth, check_k, check_lengths, mean


class DocumentMRREvaluator:
    """Document-level mean reciprocal rank at ``k``.

    Ranks are passage ranks: a gold document found first in the third passage scores 1/3,
    whatever other documents the first two passages came from.

    Example::

        evaluator = DocumentMRREvaluator(k=10)
        result = evaluator.run(
            ground_truth_documents=[["a.txt"], ["b.txt", "c.txt"], ["d.txt"]],
            retrieved_documents=[["x.txt", "a.txt"], ["y.txt", "y.txt", "c.txt", "b.txt"], ["x.txt"]],
        )
        print(round(result["score"], 4))     # 0.2778
        print(result["individual_scores"])   # [0.5, 0.3333333333333333, 0.0]
    """

    def __init__(self, k: int = 10) -> None:
        check_k(k)
        self.k = k

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
            found = [ranks[g] for g in set(gold) if g in ranks]
            scores.append(1.0 / min(found) if found else 0.0)
        return {"score": mean(scores), "individual_scores": scores}
