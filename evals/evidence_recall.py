"""``evidence_recall@k``: the share of questions with an evidence-holding passage in the top ``k``."""

from __future__ import annotations

from .ranking import EvidenceMetric


class EvidenceRecallEvaluator(EvidenceMetric):
    """Evidence-level recall (hit rate) at ``k``.

    The flags come from :func:`evals.matching.evidence_hit`: a passage hits when it contains an
    evidence string, or overlaps one by at least half its length, in a gold document.

    Example::

        evaluator = EvidenceRecallEvaluator(k=1)
        result = evaluator.run(hits=[[True, False], [False, True], []])
        print(round(result["score"], 4))     # 0.3333
        print(result["individual_scores"])   # [1.0, 0.0, 0.0]
    """

    def score(self, rank: int | None) -> float:
        return 0.0 if rank is None else 1.0
