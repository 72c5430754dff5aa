"""``doc_recall@k``: the share of a question's gold documents among its top-``k`` retrieved passages."""

from __future__ import annotations

from .ranking import DocumentMetric


class DocumentRecallEvaluator(DocumentMetric):
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

    def score(self, gold: set[str], ranks: dict[str, int]) -> float:
        return sum(1 for g in gold if g in ranks) / len(gold)
