"""``abstention_recall`` and ``false_abstention_rate``: did the assistant abstain exactly when it should?"""

from __future__ import annotations

from collections.abc import Sequence

from .ranking import check_lengths, mean


class AbstentionEvaluator:
    """Abstention on unanswerable questions (recall) and on answerable ones (false abstentions).

    Example::

        evaluator = AbstentionEvaluator()
        result = evaluator.run(answerable=[True, True, True, True, False, False],
                               abstained=[False, True, False, False, True, False])
        print(result["abstention_recall"])       # 0.5
        print(result["false_abstention_rate"])   # 0.25
        print(result["individual_scores"])       # [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    """

    def run(self, answerable: Sequence[bool], abstained: Sequence[bool]) -> dict:
        """Score each question: 1.0 when it abstained exactly when the question is unanswerable.

        Args:
            answerable: whether the corpus answers each question.
            abstained: whether the assistant abstained.

        Returns:
            ``{"abstention_recall", "false_abstention_rate"`` (None when there is no question of
            that kind), ``"individual_scores"}``.
        """
        check_lengths(answerable=answerable, abstained=abstained)
        on_unanswerable = [float(off) for ok, off in zip(answerable, abstained) if not ok]
        on_answerable = [float(off) for ok, off in zip(answerable, abstained) if ok]
        return {
            "abstention_recall": mean(on_unanswerable),
            "false_abstention_rate": mean(on_answerable),
            "individual_scores": [float(off != ok) for ok, off in zip(answerable, abstained)],
        }
