"""``section_precision``: the share of citations into legal texts that name the right article."""

from __future__ import annotations

import re
from collections.abc import Sequence

_ARTICLE = re.compile(r"Điều\s+(\d+[a-zđ]?)")


def article_of(section: str | None) -> str | None:
    """'35' for 'Điều 35, khoản 2' (None when no article is named)."""
    found = _ARTICLE.search(section or "")
    return found.group(1) if found else None


class SectionPrecisionEvaluator:
    """Micro-averaged: citations naming the gold Điều of a gold document / all citations, over the
    questions that have a gold ``section`` (abstentions and other questions do not count).

    Example::

        evaluator = SectionPrecisionEvaluator()
        result = evaluator.run(["Điều 35"], [["luat.txt"]], [[("luat.txt", "Điều 35, khoản 1"), ("luat.txt", "Điều 36")]])
        print(result["score"])   # 0.5
    """

    def run(self, sections: Sequence[str | None], docs: Sequence[Sequence[str]],
            citations: Sequence[Sequence[tuple[str, str | None]]]) -> dict:
        total = good = 0
        individual: list[float | None] = []
        for gold, gold_docs, cited in zip(sections, docs, citations):
            article = article_of(gold)
            if article is None or not cited:
                individual.append(None)
                continue
            right = sum(1 for source, section in cited if source in gold_docs and article_of(section) == article)
            total, good = total + len(cited), good + right
            individual.append(right / len(cited))
        return {"score": good / total if total else None, "individual_scores": individual}
