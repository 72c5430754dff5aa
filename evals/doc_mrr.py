"""``doc_mrr@k``: the reciprocal rank of the first gold document among the top-``k`` retrieved passages."""

from __future__ import annotations

from .ranking import DocumentMetric


class DocumentMRREvaluator(DocumentMetric):
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

    def score(self, gold: set[str], ranks: dict[str, int]) -> float:
        found = [ranks[g] for g in gold if g in ranks]
        return 1.0 / min(found) if found else 0.0
