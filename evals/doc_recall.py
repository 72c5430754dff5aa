"""``doc_recall@k``: the share of a question's gold documents among its top-``k`` retrieved passages."""

from __future__ import annotations

from collections.abc import Sequence

from .ranking import best_ranks, check_ground_truth, check_k, check_lengths, mean


class DocumentRecallEvaluator:
    """Document-level recall at ``k``, averaged over questions.

    A retrieved passage counts for its source file and a document counts once, at its best rank;
    a question with two gold documents scores 0.5 when only one of them is in the top ``k``.

    Example::

        evaluator = DocumentRecallEvaluator(k=2)
        result = evaluator.run(
            ground_truth_documents=[["a.txt"], ["b.txt", "c.txt"], ["d.txt"]],
            retrieved_documents=[["x.txt", "a.txt"], ["b.txt", "b.txt", "c.txt"], []],
        )
        print(result["score"])               # 0.5
        print(result["individual_scores"])   # [1.0, 0.5, 0.0]
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
            ranks = best_ranks(retrieved)
            gold_set = set(gold)
            scores.append(sum(1 for g in gold_set if ranks.get(g, self.k + 1) <= self.k) / len(gold_set))
        return {"score": mean(scores), "individual_scores": scores}
