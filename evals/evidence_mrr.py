"""``evidence_mrr@k``: the reciprocal rank of the first evidence-holding passage in the top ``k``."""

from __future__ import annotations

from .ranking import EvidenceMetric


class EvidenceMRREvaluator(EvidenceMetric):
    """Evidence-level mean reciprocal rank at ``k`` (hit flags from :func:`evals.matching.evidence_hit`).

    Example::

        evaluator = EvidenceMRREvaluator(k=10)
        result = evaluator.run(hits=[[True, True], [False, False, False, True], [False]])
        print(round(result["score"], 4))     # 0.4167
        print(result["individual_scores"])   # [1.0, 0.25, 0.0]
    """

    def score(self, rank: int | None) -> float:
        return 1.0 / rank if rank else 0.0
