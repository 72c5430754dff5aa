"""``evidence_recall@k``: the share of questions with an evidence-holding passage in the top ``k``."""

from __future__ import annotations

from collections.abc import Sequence

from .ranking import check_k, first_hit, mean


class EvidenceRecallEvaluator:
    """Evidence-level recall (hit rate) at ``k``.

    The flags come from :func:`evals.matching.evidence_hit`: a passage hits when it contains an
    evidence string, or overlaps one by at least half its length, in a gold document.

    Example::

        evaluator = EvidenceRecallEvaluator(k=1)
        result = evaluator.run(hits=[[True, False], [False, True], []])
        print(round(result["score"], 4))     # 0.3333
        print(result["individual_scores"])   # [1.0, 0.0, 0.0]
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
        scores = [1.0 if first_hit(flags, self.k) is not None else 0.0 for flags in hits]
        return {"score": mean(scores), "individual_scores": scores}
