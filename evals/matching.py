"""How answers and retrieved passages are judged against gold data (rules of the question-set format)."""

from __future__ import annotations

from rag.vietnamese import match_key


def answer_matches(answer: str, gold: list[str], match: str) -> bool:
    """``any``: contains one gold string; ``all``: contains every one; ``none``: judged by abstention instead."""
    key = match_key(answer)
    found = [match_key(g) in key for g in gold if g.strip()]
    if match == "all":
        return bool(found) and all(found)
    if match == "any":
        return any(found)
    return False


def evidence_hit(text: str, source: str, start: int, end: int, evidence: list[str], docs: list[str],
                 document_text: str | None = None) -> bool:
    """A passage hits when it contains an evidence string, or its span overlaps one by half its length."""
    if docs and source not in docs:
        return False
    key = match_key(text)
    if any(match_key(e) in key for e in evidence if e.strip()):
        return True
    if document_text is None:
        return False
    for e in evidence:
        if not e:
            continue
        pos = document_text.find(e)
        while pos >= 0:
            overlap = min(end, pos + len(e)) - max(start, pos)
            if overlap >= len(e) / 2:
                return True
            pos = document_text.find(e, pos + 1)
    return False
