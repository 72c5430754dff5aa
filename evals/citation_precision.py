"""``citation_precision``: the share of all citations that point at gold support."""

from __future__ import annotations

from collections.abc import Sequence


class CitationPrecisionEvaluator:
    """Micro-averaged citation precision: supported citations / all citations, over every question.

    The flags come from :func:`evals.matching.citation_supported`: the quoted span lies in a gold
    document and overlaps an evidence span or contains a gold answer. A citation given for an
    unanswerable question is never supported. Questions without citations (abstentions) do not count.

    Example::

        evaluator = CitationPrecisionEvaluator()
        result = evaluator.run(supported=[[True, False], [], [True]])
        print(round(result["score"], 4))     # 0.6667
        print(result["individual_scores"])   # [0.5, None, 1.0]
    """

    def run(self, supported: Sequence[Sequence[bool]]) -> dict:
        """Score each question's citations.

        Args:
            supported: per question, one flag per citation.

        Returns:
            ``{"score": None when there is no citation at all, "individual_scores": [precision or None]}``.
        """
        total = sum(len(flags) for flags in supported)
        good = sum(sum(1 for f in flags if f) for flags in supported)
        individual = [sum(1 for f in flags if f) / len(flags) if flags else None for flags in supported]
        return {"score": good / total if total else None, "individual_scores": individual}
