"""``evidence_mrr@k``: the reciprocal rank of the first evidence-holding passage in the top ``k``."""

from __future__ import annotations

from collections.abc import Sequence

from .ranking import check_k, first_hit, mean


class EvidenceMRREvaluator:
    """Evidence-level mean reciprocal rank at ``k`` (hit flags from :func:`evals.matching.evidence_hit`).

    Example::

        evaluator = EvidenceMRREvaluator(k=10)
        result = evaluator.run(hits=[[True, True], [False, False, False, True], [False]])
        print(round(result["score"], 4))     # 0.4167
        print(result["individual_scores"])   # [1.0, 0.25, 0.0]
    """

    def __init__(self, k: int = 10) -> None:
        check_k(k)
        self.k = k

    def run(self, hits: Sequence[Sequence[bool]]) -> dict:
        """Score each question.

        Args:
            hits: per question, one flag per retrieved passage (best first): does it hold the evidence?

        Returns:
            ``{"score": mean or None when there is no question, "individual_scores": [...]}``.
        """
        scores = []
        for flags in hits:
            rank = first_hit(flags, self.k)
            scores.append(1.0 / rank if rank else 0.0)
        return {"score": mean(scores), "individual_scores": scores}
