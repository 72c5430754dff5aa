"""``accuracy``: answerable questions whose answer text satisfies ``match`` against the gold answers."""

from __future__ import annotations

from collections.abc import Sequence

from .matching import answer_matches
from .ranking import check_lengths, mean


class AnswerAccuracyEvaluator:
    """Exact-containment accuracy over answerable questions; an abstention is never right.

    Matching is :func:`evals.matching.answer_matches`: NFC, case-folded, whitespace collapsed and
    tone placement normalised ("Thanh Hoá" matches "Thanh Hóa"); ``any`` needs one gold string,
    ``all`` needs every one.

    Example::

        evaluator = AnswerAccuracyEvaluator()
        result = evaluator.run(
            answers=["Tỉnh Thanh Hoá và Nghệ An. [1]", "Nghệ An. [1]", "Hà Tĩnh [1]"],
            ground_truth_answers=[["Thanh Hóa", "Nghệ An"], ["Thanh Hóa", "Nghệ An"], ["Hà Tĩnh"]],
            matches=["all", "all", "any"],
            abstained=[False, False, True],
        )
        print(round(result["score"], 4))     # 0.3333
        print(result["individual_scores"])   # [1.0, 0.0, 0.0]
    """

    def run(self, answers: Sequence[str], ground_truth_answers: Sequence[Sequence[str]], matches: Sequence[str],
            abstained: Sequence[bool]) -> dict:
        """Score each answerable question.

        Args:
            answers: the answer texts (citation markers may stay in).
            ground_truth_answers: the gold strings of each question.
            matches: ``"any"`` or ``"all"`` per question.
            abstained: whether the assistant abstained.

        Returns:
            ``{"score": mean or None when there is no question, "individual_scores": [...]}``.
        """
        check_lengths(answers=answers, ground_truth_answers=ground_truth_answers, matches=matches,
                      abstained=abstained)
        bad = sorted({m for m in matches if m not in ("any", "all")})
        if bad:
            msg = f"Accuracy covers answerable questions ('any' or 'all'); got match {bad}."
            raise ValueError(msg)
        scores = [0.0 if off else float(answer_matches(a, list(gold), m))
                  for a, gold, m, off in zip(answers, ground_truth_answers, matches, abstained)]
        return {"score": mean(scores), "individual_scores": scores}
