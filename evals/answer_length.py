"""``median_answer_chars``: how long the given answers are (abstentions left out)."""

from __future__ import annotations

from collections.abc import Sequence

from .latency import percentile
from .ranking import check_lengths


class AnswerLengthEvaluator:
    """Median character count of the answers that were given (not abstentions), citation markers included.

    Example::

        evaluator = AnswerLengthEvaluator()
        result = evaluator.run(answers=["Hà Tĩnh. [1]", "28 điểm cầu. [1]", "Tài liệu không có…"],
                               abstained=[False, False, True])
        print(result["score"])               # 14.0
        print(result["individual_scores"])   # [12, 16, None]
    """

    def run(self, answers: Sequence[str], abstained: Sequence[bool]) -> dict:
        """Measure each answer.

        Args:
            answers: the answer texts.
            abstained: whether the assistant abstained (those are not measured).

        Returns:
            ``{"score": median or None when nothing was answered, "individual_scores": [chars or None]}``.
        """
        check_lengths(answers=answers, abstained=abstained)
        lengths = [None if off else len(a) for a, off in zip(answers, abstained)]
        given = [n for n in lengths if n is not None]
        return {"score": percentile(given, 50), "individual_scores": lengths}
